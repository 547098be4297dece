"""The logger process: the `LOGS` stream's limits, the tail RPC, the archive and purges.

    settings → NATS (+ streams and buckets; `LOGS` with the logger's limits) → object store
    → tail responder → archiver → deletion watch → Fluent Bit ingest endpoint (when on)

The logger is the one service that sets the limits of `LOGS` (`deis_shared.bus.topology`):
the runner's `ensure_topology()` creates the stream with the defaults when it is missing, then
`start` makes it match the logger's settings. Lines reach the stream without the logger (the
scheduler, fluent-bit and the controller publish to `deis.logs.<app>` and the server stores
them): a logger that is down loses no line, only tails and archiving wait for it. The one
exception is Fluent Bit on Kubernetes, which posts the apps' lines to the logger's ingest
endpoint (`ingesting`, on when `ingest_port` is set): Fluent Bit keeps and resends them while
the logger is away.

At SIGTERM the ingest endpoint stops accepting (requests in flight finish), the responder
stops answering, the archiver finishes its batch and uploads every spooled hour, and the
runner drains NATS.
"""

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from deis_logger import purging, tailing
from deis_logger.archiving import Archiver
from deis_logger.ingesting import IngestServer
from deis_logger.settings import LoggerSettings
from deis_logger.spooling import Spool
from deis_logger.uploading import Uploader
from deis_shared import runner as shared_runner
from deis_shared.bus import kv, topology
from deis_shared.kv import desired as desired_kv
from deis_shared.runner import Service, ServiceRunner


@dataclass(frozen=True)
class Logger:
    """A started logger: its archiver, when archiving, and its ingest endpoint, when on."""

    archiver: Archiver | None
    ingest: IngestServer | None = None


def make_runner(settings: LoggerSettings) -> ServiceRunner:
    """The service runner opening NATS and the object store."""
    return ServiceRunner(settings)


async def start(service: Service, settings: LoggerSettings) -> Logger:
    """Set the stream's limits, answer tails, archive, purge deleted apps."""
    if service.bus is None:
        raise RuntimeError("the logger needs NATS")
    bus = service.bus
    await topology.ensure_topology(
        bus.js,
        logs_max_per_subject=settings.max_lines_per_app,
        logs_max_age=settings.max_age,
        replicas=settings.jetstream_replicas,
    )
    archiver = None
    if settings.archive and service.store is not None:
        spool = Spool(settings.data_dir / "spool")
        archiver = Archiver(
            nc=bus.nc,
            js=bus.js,
            spool=spool,
            uploader=Uploader(store=service.store, spool=spool),
            batch=settings.archive_batch,
            grace=settings.archive_grace,
            check_interval=settings.archive_check_interval,
            poll=settings.archive_poll,
        )
    tails = tailing.responder(bus=bus, max_lines=settings.max_lines_per_app)
    ingest = None
    if settings.ingest_port is not None:
        ingest = IngestServer.from_settings(settings, bus=bus, registry=service.health.registry)

    async def stop_accepting() -> None:
        # Closed in reverse: the endpoint, the responder, the archiver; each even if one fails.
        async with contextlib.AsyncExitStack() as stack:
            if archiver is not None:
                stack.push_async_callback(archiver.close)
            stack.push_async_callback(tails.close)
            if ingest is not None:
                stack.push_async_callback(ingest.close)

    service.on_stop(stop_accepting)
    if archiver is not None:
        service.tasks.spawn(archiver.run(), name="archive-logs")
    service.tasks.spawn(
        purging.watch_deletions(
            js=bus.js,
            watch=lambda: kv.watch(bus.js, desired_kv.SPEC, nc=bus.nc),
            archive=archiver,
        ),
        name="purge-deleted-apps",
    )
    await tails.start()
    if ingest is not None:
        await ingest.start()
    return Logger(archiver=archiver, ingest=ingest)


@contextlib.asynccontextmanager
async def running(settings: LoggerSettings) -> AsyncIterator[Logger]:
    """The whole logger in this event loop, for tests and benchmarks; closed on exit."""
    async with make_runner(settings) as service:
        yield await start(service, settings)


def run(settings: LoggerSettings) -> int:
    """Serve until SIGTERM/SIGINT; the process's exit code."""

    async def begin(service: Service) -> None:
        await start(service, settings)

    return shared_runner.run(make_runner(settings), begin)
