"""The controller process: uvicorn serving the API, whose lifespan opens every resource.

Shutdown follows docs/conventions.md ("Async"): on SIGTERM uvicorn stops accepting
connections and finishes in-flight requests, then the lifespan closes the service runner
(workers, NATS drain, pool).
A background task that dies makes the process stop with exit code 1.
"""

import asyncio
import contextlib
import gc
import logging
import signal
from collections.abc import Callable, Iterator

import uvicorn
from fastapi import FastAPI

from deis_controller.api.app import create_app
from deis_controller.settings import ControllerSettings
from deis_controller.workers import starting
from deis_shared.logconfig import configure_logging
from deis_shared.runner import EXIT_FAILED, EXIT_OK, Service

logger = logging.getLogger(__name__)


class _Server(uvicorn.Server):
    """uvicorn's server with signal handling on the loop.

    uvicorn re-raises a caught SIGTERM after shutting down, which would end the process by the
    signal instead of with exit code 0.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._stop)
        try:
            yield
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)

    def _stop(self) -> None:
        if self.should_exit:
            self.force_exit = True
        self.should_exit = True


def build_app(
    settings: ControllerSettings, *, on_started: Callable[[Service], None] | None = None
) -> FastAPI:
    """The whole controller as an ASGI app: the API, with the NATS workers started beside it."""
    return create_app(settings, start_workers=starting.start, on_started=on_started)


async def serve(settings: ControllerSettings) -> int:
    """Serve until SIGTERM/SIGINT or a failed background task; the exit code."""
    failed = False
    server: uvicorn.Server | None = None
    watchers: list[asyncio.Task[None]] = []

    async def watch(service: Service) -> None:
        nonlocal failed
        await service.tasks.failed.wait()
        failed = True
        logger.critical("stopping after failure: %s", service.tasks.failure)
        if server is not None:
            server.should_exit = True

    def on_started(service: Service) -> None:
        # Everything allocated so far lives as long as the process: keep the collector from
        # walking it again and again, which shows up as latency spikes under load.
        gc.freeze()
        watchers.append(asyncio.create_task(watch(service), name="watch-failures"))

    app = build_app(settings, on_started=on_started)
    config = uvicorn.Config(
        app,
        host=settings.api_host,
        port=settings.api_port,
        lifespan="on",
        log_config=None,
        access_log=False,
        server_header=False,
        loop="uvloop",
        http="httptools",
        timeout_graceful_shutdown=max(1, int(settings.shutdown_timeout / 2)),
    )
    server = _Server(config)
    try:
        await server.serve()
    finally:
        for watcher in watchers:
            watcher.cancel()
        await asyncio.gather(*watchers, return_exceptions=True)
    if failed or not server.started:
        return EXIT_FAILED
    return EXIT_OK


def run(settings: ControllerSettings) -> int:
    """Configure logging and serve; the process's exit code."""
    configure_logging(
        service=settings.service_name, level=settings.log_level, json_lines=settings.log_json
    )
    return asyncio.run(serve(settings))
