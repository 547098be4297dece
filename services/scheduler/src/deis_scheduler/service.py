"""The scheduler process: the runner's clients, the log shipper and the reconciler.

    settings → NATS (+ streams and buckets) → object store → log shipper → reconciler

At start, before watching, the reconciler adopts the processes a previous scheduler left
running (`local.records`). At SIGTERM it stops its workers and detaches from the app
processes, which run on for the next scheduler (or, with `stop_processes_on_exit`, stops them:
SIGTERM, grace, SIGKILL); the shipper flushes what the processes wrote last, and the runner
drains NATS. `STOP_APPS_SIGNAL` (SIGUSR1) is SIGTERM that stops the app processes this once:
`deisctl down` sends it, while a scheduler that crashes or is restarted alone leaves them be.

`stop_apps` is `deis-scheduler stop-apps`: with no scheduler running, it stops every process
the records name (`local.stopping`), the backstop `deisctl down` runs after the services stop.
"""

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from deis_scheduler.app import routers as routers_app
from deis_scheduler.app.backend import ProcessBackend
from deis_scheduler.app.context import Context
from deis_scheduler.app.reconciler import Reconciler
from deis_scheduler.app.routers import RouterSet
from deis_scheduler.app.shipping import LogShipper
from deis_scheduler.kubernetes.backend import KubernetesBackend
from deis_scheduler.kubernetes.cache import Cache
from deis_scheduler.kubernetes.client import Kube
from deis_scheduler.kubernetes.context import KubeContext
from deis_scheduler.local import cgroups, stopping
from deis_scheduler.local.backend import LocalBackend
from deis_scheduler.local.context import LocalContext
from deis_scheduler.local.records import Records
from deis_scheduler.local.slugs import SlugCache
from deis_scheduler.settings import (
    SchedulerSettings,
    app_uids,
    process_base_environment,
)
from deis_shared import logconfig, runner as shared_runner, sandbox
from deis_shared.bus import connection, kv, requesting
from deis_shared.kv import desired as desired_kv, routers as routers_kv
from deis_shared.rpc import scheduler as scheduler_rpc
from deis_shared.runner import Service, ServiceRunner

logger = logging.getLogger(__name__)

RPC_QUEUE = "scheduler"
"""Queue group of the scheduler's responders."""

STOP_APPS_SIGNAL = signal.SIGUSR1
"""Stop the scheduler and its app processes, whatever `stop_processes_on_exit` says."""


@dataclass(frozen=True)
class Scheduler:
    """A started scheduler: its context and reconciler."""

    ctx: Context
    reconciler: Reconciler


def make_runner(settings: SchedulerSettings) -> ServiceRunner:
    """The service runner opening NATS and the object store."""
    return ServiceRunner(settings)


async def start(service: Service, settings: SchedulerSettings) -> Scheduler:
    """Start shipping logs and converging every app, on the backend the settings name."""
    if service.bus is None:
        raise RuntimeError("the scheduler needs NATS")
    bus = service.bus
    shipper = LogShipper(nc=bus.nc, capacity=settings.log_buffer_lines)
    closers: list[Callable[[], Awaitable[None]]] = [shipper.close]
    backend: ProcessBackend
    if settings.backend == "kubernetes":
        kube_ctx = await _kubernetes_context(settings, js=bus.js, log=shipper)
        kubernetes = KubernetesBackend(kube_ctx)
        kube_ctx.cache.start()
        closers += [kube_ctx.cache.close, kube_ctx.kube.close]
        service.tasks.spawn(kubernetes.publish_procs(), name="publish-pods")
        ctx: Context = kube_ctx
        backend = kubernetes
    else:
        local_ctx = await _local_context(service, settings, js=bus.js, nc=bus.nc, shipper=shipper)
        ctx, backend = local_ctx, LocalBackend(local_ctx)
    reconciler = Reconciler(
        ctx,
        backend=backend,
        watch=lambda: kv.watch(bus.js, desired_kv.SPEC, nc=bus.nc),
    )

    async def run_command(request: scheduler_rpc.RunRequest) -> scheduler_rpc.RunReply:
        worker = reconciler.workers.get(request.app)
        latest = worker.latest if worker is not None else None
        return await backend.run(desired=latest, request=request)

    runs: requesting.Responder[scheduler_rpc.RunRequest, scheduler_rpc.RunReply] = (
        requesting.Responder(
            nc=bus.nc,
            subject=scheduler_rpc.RUN_SUBJECT,
            queue=RPC_QUEUE,
            request_type=scheduler_rpc.RunRequest,
            handler=run_command,
        )
    )

    async def stop_accepting() -> None:
        try:
            await runs.close()
            await reconciler.close()
        finally:
            for close in closers:
                await close()

    service.on_stop(stop_accepting)
    service.tasks.spawn(shipper.run(), name="ship-logs")
    await reconciler.adopt()
    service.tasks.spawn(reconciler.watch(), name="watch-desired")
    service.tasks.spawn(reconciler.resync(), name="resync")
    await runs.start()
    return Scheduler(ctx=ctx, reconciler=reconciler)


async def _local_context(
    service: Service,
    settings: SchedulerSettings,
    *,
    js: connection.JetStream,
    nc: connection.Client,
    shipper: LogShipper,
) -> LocalContext:
    """The local backend's context; the host must be able to make sandboxes."""
    if service.store is None:
        raise RuntimeError("the local backend needs an object store")
    try:
        await asyncio.to_thread(sandbox.check_available)
    except sandbox.SandboxUnavailable as exc:
        logger.critical("the scheduler cannot run apps: %s", exc)
        raise
    routers = RouterSet()
    empty = await routers_app.bucket_is_empty(js)
    service.tasks.spawn(
        routers.follow(lambda: kv.watch(js, routers_kv.SPEC, nc=nc), empty=empty),
        name="watch-routers",
    )
    return LocalContext(
        routers=routers,
        settings=settings,
        js=js,
        slugs=SlugCache(store=service.store, root=settings.data_dir),
        records=Records(records_dir(settings)),
        cpu=cgroups.find(settings.cgroup_root) if settings.cgroup_root is not None else None,
        shipper=shipper,
        base_env=process_base_environment(),
        uids=app_uids(settings),
    )


async def _kubernetes_context(
    settings: SchedulerSettings, *, js: connection.JetStream, log: LogShipper
) -> KubeContext:
    """The Kubernetes backend's context: a client, and a cache that starts watching."""
    if settings.object_store != "s3":
        raise RuntimeError(
            "the kubernetes backend needs an S3 object store (DEIS_OBJECT_STORE=s3): slug"
            " runners on the cluster fetch slugs from it"
        )
    kube = await Kube.connect(settings)
    return KubeContext(
        settings=settings,
        js=js,
        kube=kube,
        cache=Cache(kube, seconds=settings.kube_watch_seconds),
        log=log,
        store=slug_store(settings),
    )


def slug_store(settings: SchedulerSettings) -> dict[str, str]:
    """The object-store settings a slug runner gets (its `slug-store` Secret)."""
    values = {
        "DEIS_OBJECT_STORE": settings.object_store,
        "DEIS_S3_BUCKET": settings.s3_bucket,
        "DEIS_S3_REGION": settings.s3_region,
    }
    if settings.s3_endpoint_url:
        values["DEIS_S3_ENDPOINT_URL"] = settings.s3_endpoint_url
    if settings.s3_access_key_id is not None:
        values["DEIS_S3_ACCESS_KEY_ID"] = settings.s3_access_key_id.get_secret_value()
    if settings.s3_secret_access_key is not None:
        values["DEIS_S3_SECRET_ACCESS_KEY"] = settings.s3_secret_access_key.get_secret_value()
    return values


@contextlib.asynccontextmanager
async def running(settings: SchedulerSettings) -> AsyncIterator[Scheduler]:
    """The whole scheduler in this event loop, for tests and benchmarks; closed on exit."""
    async with make_runner(settings) as service:
        yield await start(service, settings)


def records_dir(settings: SchedulerSettings) -> Path:
    """Where the per-app process records live (`local.records`)."""
    return settings.data_dir / "records"


def run(settings: SchedulerSettings) -> int:
    """Serve until SIGTERM/SIGINT (or `STOP_APPS_SIGNAL`); the process's exit code."""

    async def begin(service: Service) -> None:
        # The handler goes in before the start-up, which adopts the apps and may take a while:
        # a `deisctl down` meanwhile must not kill the scheduler with the signal's default.
        asked = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(STOP_APPS_SIGNAL, _stop_with_apps, asked)
        scheduler = await start(service, settings)
        if asked.is_set():
            scheduler.reconciler.stop_processes_on_exit = True
        else:
            asyncio.get_running_loop().add_signal_handler(
                STOP_APPS_SIGNAL, _stop_with_apps, asked, scheduler.reconciler
            )

    return shared_runner.run(make_runner(settings), begin)


def _stop_with_apps(asked: asyncio.Event, reconciler: Reconciler | None = None) -> None:
    logger.info("stopping, and stopping the app processes too")
    asked.set()
    if reconciler is not None:
        reconciler.stop_processes_on_exit = True
    # The runner stops on SIGTERM; raising it here is its one way in.
    signal.raise_signal(signal.SIGTERM)


def stop_apps(settings: SchedulerSettings) -> int:
    """Stop the app processes the records name (no scheduler may be running); exit code 0.

    Each process stopped is one line on stdout, `stopped <app> <type>.<index> (pid <pid>)`
    (what `deisctl` shows); the log goes to stderr.
    """
    logconfig.configure_logging(
        service=settings.service_name, level=settings.log_level, json_lines=settings.log_json
    )
    found = Records(records_dir(settings)).load()
    for gone in stopping.stop_recorded(found, grace=settings.stop_grace):
        sys.stdout.write(f"stopped {gone.app} {gone.label} (pid {gone.pid})\n")
    return 0
