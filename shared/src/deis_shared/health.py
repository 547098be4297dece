"""`/healthz`, `/readyz` and `/metrics` for every service, HTTP or not.

`Health` holds what the endpoints report: liveness (the process runs and no eternal task has
died), readiness (every resource is open and each registered check passes) and a per-service
Prometheus registry. HTTP services mount `Health.routes()` into their own application;
the others serve the same routes on `health_port` with `HealthServer`.
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterator

import uvicorn
from prometheus_client import CollectorRegistry, Gauge, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.process_collector import ProcessCollector
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

logger = logging.getLogger(__name__)

ReadinessCheck = Callable[[], Awaitable[bool]]
"""An async predicate: True when the resource it watches can serve."""


class Health:
    """What a service reports about itself."""

    def __init__(self, *, service: str) -> None:
        self.service = service
        self.registry = CollectorRegistry()
        """The service's metrics; add your own collectors here."""
        ProcessCollector(registry=self.registry)
        self.live = True
        self.ready = False
        self._checks: dict[str, ReadinessCheck] = {}
        self._ready_gauge = Gauge(
            "deis_ready",
            "1 when the service is ready to serve",
            ["service"],
            registry=self.registry,
        )

    def add_check(self, *, name: str, check: ReadinessCheck) -> None:
        """Make readiness depend on `check` as well."""
        self._checks[name] = check

    async def failing_checks(self) -> list[str]:
        """Names of readiness checks that fail now (a check that raises fails)."""
        failing = []
        for name, check in self._checks.items():
            try:
                ok = await asyncio.wait_for(check(), timeout=2.0)
            except Exception:  # noqa: BLE001 -- any failure means not ready
                ok = False
            if not ok:
                failing.append(name)
        return failing

    async def _healthz(self, _: Request) -> Response:
        return PlainTextResponse(
            "OK" if self.live else "failed", status_code=200 if self.live else 503
        )

    async def _readyz(self, _: Request) -> Response:
        if not self.ready:
            return PlainTextResponse("starting or stopping", status_code=503)
        failing = await self.failing_checks()
        if failing:
            return PlainTextResponse("not ready: " + ", ".join(failing), status_code=503)
        return PlainTextResponse("OK")

    async def _metrics(self, _: Request) -> Response:
        self._ready_gauge.labels(self.service).set(1 if self.ready else 0)
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)

    def routes(self) -> list[Route]:
        """The three routes, for mounting into a service's own Starlette/FastAPI app."""
        return [
            Route("/healthz", self._healthz, methods=["GET", "HEAD"]),
            Route("/readyz", self._readyz, methods=["GET", "HEAD"]),
            Route("/metrics", self._metrics, methods=["GET"]),
        ]


class _QuietServer(uvicorn.Server):
    """uvicorn without its own signal handling: the service runner owns SIGTERM."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class BackgroundServer:
    """An ASGI app served by uvicorn in a task of this loop, on a port of its own.

    For what a service serves beside its main work: health (`HealthServer`), the logger's
    ingest endpoint. The service runner, not uvicorn, handles signals.
    """

    def __init__(
        self,
        app: Starlette,
        *,
        name: str,
        host: str,
        port: int,
        graceful_shutdown: int | None = None,
    ) -> None:
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            log_config=None,
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=graceful_shutdown,
        )
        self.name = name
        self._server = _QuietServer(config)
        self._task: asyncio.Task[None] | None = None

    @property
    def port(self) -> int:
        """The bound port (useful when configured as 0)."""
        for server in self._server.servers:
            for sock in server.sockets:
                port: int = sock.getsockname()[1]
                return port
        raise RuntimeError(f"{self.name} is not listening")

    async def start(self) -> None:
        """Bind and serve in a task; returns once the port accepts connections."""
        self._task = asyncio.create_task(self._server.serve(), name=self.name)
        while not self._server.started:
            if self._task.done():
                await self._task
                raise RuntimeError(f"{self.name} stopped during start-up")
            await asyncio.sleep(0.01)

    async def close(self) -> None:
        """Stop accepting, let requests in flight finish; safe to call twice or before start."""
        task, self._task = self._task, None
        if task is None:
            return
        self._server.should_exit = True
        await task


class HealthServer(BackgroundServer):
    """Serves `Health.routes()` on its own port, for services without an HTTP API."""

    def __init__(self, *, health: Health, host: str, port: int) -> None:
        super().__init__(
            Starlette(routes=health.routes()), name="health-server", host=host, port=port
        )
