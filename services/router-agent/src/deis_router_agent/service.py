"""The router agent process: KV watches, the routing table, the applier and nginx.

    settings → NATS → nginx's Lua module found, and its stream module (if the builder is
    proxied) → data dir (an nginx left running found, releases cleared, the balancer's Lua and
    socket directory; the platform's certificate checked and copied, if set) → an empty
    configuration checked by `nginx -t` (the Lua module loads)
    → watches of `routes`, `endpoints` (and `challenges`) → first revision once both delivered
    every key → nginx started (or adopted) on it, sent every app's endpoints → nginx
    supervision, the applier and the ACME answers (sent now, and after each nginx start) (and
    the platform certificate's files followed)

At SIGTERM/SIGINT the tasks are cancelled and the runner drains NATS, and nginx runs on: in
local mode nginx outlives its agent, and the next agent of the same data dir adopts it (its
first revision is then a reload, and it sends the balancer every app's endpoints), so that
restarting the agent (an upgrade, a crash, even SIGKILL) drops no request. A router without
its agent serves the configuration it last had until then. `STOP_NGINX_SIGNAL` (SIGUSR1) is
SIGTERM that stops nginx too, gracefully (SIGQUIT: open connections finish, up to the grace):
`deisctl down` sends it. In a container nginx ends with the agent's container either way (the
router image's stop signal is SIGUSR1, so that it ends gracefully). `running()`, for tests and
benchmarks, stops nginx at exit.
"""

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deis_router_agent.app import answering, metering, platform_tls, watching
from deis_router_agent.app.applying import Applier
from deis_router_agent.app.context import Context
from deis_router_agent.app.membership import Membership
from deis_router_agent.app.table import RoutingTable
from deis_router_agent.domain import skeleton
from deis_router_agent.domain.options import Options, Upstream
from deis_router_agent.errors import NginxFailed
from deis_router_agent.nginx import checking, master as nginx_master, modules, status, users
from deis_router_agent.nginx.layout import Layout
from deis_router_agent.settings import RouterSettings, split_upstream
from deis_shared import runner as shared_runner
from deis_shared.bus import kv as bus_kv
from deis_shared.kv import (
    challenges as challenges_kv,
    endpoints as endpoints_kv,
    routes as routes_kv,
)
from deis_shared.kv.bucket import Bucket
from deis_shared.runner import Service, ServiceRunner

logger = logging.getLogger(__name__)

STOP_NGINX_SIGNAL = signal.SIGUSR1
"""SIGTERM that stops nginx too (SIGTERM and SIGINT leave it running for the next agent)."""


@dataclass(frozen=True)
class Router:
    """A started router agent."""

    ctx: Context
    table: RoutingTable
    applier: Applier
    membership: Membership
    answers: answering.Answers


def make_runner(settings: RouterSettings) -> ServiceRunner:
    """The service runner opening NATS (the router needs no database or object store)."""
    return ServiceRunner(settings)


def _upstream(value: str | None) -> Upstream | None:
    if value is None:
        return None
    host, port = split_upstream(value)
    return Upstream(host=host, port=port)


def make_options(
    settings: RouterSettings,
    *,
    layout: Layout,
    worker: users.WorkerUser,
    status_port: int,
    stream_module: Path | None = None,
    lua_modules: tuple[Path, ...] = (),
) -> Options:
    """The rendering options of these settings."""
    return Options(
        paths=layout.paths,
        platform_domain=settings.platform_domain,
        listen_address=settings.listen_address,
        http_port=settings.http_port,
        https_port=settings.https_port,
        https_redirect_port=settings.https_redirect_port or settings.https_port,
        status_port=status_port,
        worker_user=worker.directive,
        worker_processes=settings.worker_processes,
        worker_connections=settings.worker_connections,
        worker_shutdown_timeout=settings.worker_shutdown_timeout,
        proxy_connect_timeout=settings.proxy_connect_timeout,
        proxy_read_timeout=settings.proxy_read_timeout,
        proxy_send_timeout=settings.proxy_send_timeout,
        client_max_body_size=settings.client_max_body_size,
        keepalive_timeout=settings.keepalive_timeout,
        upstream_keepalive=settings.upstream_keepalive,
        hsts_max_age=settings.hsts_max_age,
        access_log=settings.access_log,
        controller=_upstream(settings.controller_upstream),
        platform_tls=layout.platform_tls if settings.platform_cert_file is not None else None,
        platform_https_enforced=settings.platform_https_enforced,
        builder=_upstream(settings.builder_upstream),
        builder_port=settings.builder_port,
        builder_proxy_timeout=settings.builder_proxy_timeout,
        stream_module=stream_module,
        lua_modules=lua_modules,
        metrics_memory=settings.metrics_memory,
        routes_memory=settings.routes_memory,
    )


async def start(service: Service, settings: RouterSettings, *, keep_nginx: bool = False) -> Router:
    """Follow KV, start (or adopt) nginx on the first whole revision, then keep it configured.

    With `keep_nginx`, nginx runs on after the service stops (`NginxMaster.keep_running`).
    """
    if service.bus is None:
        raise RuntimeError("the router agent needs NATS")
    bus = service.bus
    layout = Layout(settings.data_dir, socket=settings.endpoints_socket)
    binary = checking.find_binary(settings.nginx_binary)
    lua_modules = await modules.find_lua_modules(binary)
    stream_module = None
    if settings.builder_upstream is not None:
        stream_module = await modules.find_stream_module(binary)
    found = await asyncio.to_thread(
        nginx_master.find_running, pid_file=layout.pid, prefix=layout.root, conf=layout.live_conf
    )
    layout.temp.mkdir(parents=True, exist_ok=True)
    worker = users.worker_user(name=settings.nginx_user, temp=layout.temp)
    last_revision = await asyncio.to_thread(
        layout.prepare, owner=worker.owner, keep_live=found is not None
    )
    certificate = None
    if settings.platform_cert_file is not None:
        certificate = await platform_tls.install(settings, layout)
    # An adopted nginx serves its status on the port its agent picked: the same keeps its
    # configuration the same, so that it can be taken over without a reload.
    saved = layout.saved_status_port() if found is not None else None
    status_port = settings.status_port or saved or status.pick_port()
    await asyncio.to_thread(layout.save_status_port, status_port)
    table = RoutingTable()
    master = nginx_master.NginxMaster(
        binary=binary,
        prefix=layout.root,
        conf=layout.live_conf,
        stderr=layout.logs / "nginx.stderr",
        backoff_max=settings.restart_backoff_max,
        sockets=(layout.socket,),
        on_spawn=table.wake,
        found=found,
        keep_running=keep_nginx,
    )
    service.on_stop(master.close)
    options = make_options(
        settings,
        layout=layout,
        worker=worker,
        status_port=status_port,
        stream_module=stream_module,
        lua_modules=lua_modules,
    )
    await _probe(binary=binary, layout=layout, options=options)
    ctx = Context(
        settings=settings, options=options, layout=layout, master=master, binary=binary, js=bus.js
    )
    applier = Applier(ctx, table=table)
    applier.revision = last_revision  # above any an adopted nginx serves
    synced: list[asyncio.Event] = []
    kinds: tuple[tuple[watching.Kind, Bucket[Any]], ...] = (
        ("routes", routes_kv.SPEC),
        ("endpoints", endpoints_kv.SPEC),
    )
    for kind, bucket in kinds:
        done = asyncio.Event()
        synced.append(done)
        if await watching.bucket_is_empty(bus.js, bucket=bucket):
            done.set()

        def watch(bucket: Bucket[Any] = bucket) -> bus_kv.Watcher[Any]:
            return bus_kv.watch(bus.js, bucket, nc=bus.nc)

        follow = watching.follow(watch=watch, table=table, kind=kind, synced=done)
        service.tasks.spawn(follow, name=f"watch-{kind}")
    answers = answering.Answers(ctx)
    applier.endpoints.on_full_send.append(answers.wake)  # nginx (re)started: it holds none
    challenges = bus_kv.watch(bus.js, challenges_kv.SPEC, nc=bus.nc)
    service.tasks.spawn(answers.follow(challenges), name="watch-challenges")
    try:
        async with asyncio.timeout(settings.initial_sync_timeout):
            for done in synced:
                await done.wait()
    except TimeoutError:
        logger.warning(
            "KV not fully read after %.0f s; starting nginx anyway", settings.initial_sync_timeout
        )
    await applier.apply(table.take())
    service.tasks.spawn(master.supervise(), name="supervise-nginx")
    service.tasks.spawn(applier.run(), name="apply-routes")
    service.tasks.spawn(answers.run(), name="answer-challenges")
    if certificate is not None:
        follow = platform_tls.follow(ctx, installed=certificate)
        service.tasks.spawn(follow, name="follow-platform-certificate")
    meter = metering.Meter(ctx)
    service.health.registry.register(metering.RequestCollector(meter))
    service.tasks.spawn(meter.run(), name="meter-requests")
    membership = Membership(
        js=bus.js,
        agent=settings.agent_name,
        heartbeat_seconds=settings.heartbeat_seconds,
        table=table,
        applier=applier,
    )
    service.tasks.spawn(membership.run(), name="announce")
    return Router(ctx=ctx, table=table, applier=applier, membership=membership, answers=answers)


async def _probe(*, binary: str, layout: Layout, options: Options) -> None:
    """`nginx -t` the configuration: the Lua modules and `resty.core` must load.

    Raises:
        NginxFailed: nginx refused it (its message, and the packages that provide Lua).
    """
    directory = layout.root / "probe"
    conf = directory / "nginx.conf"
    main = skeleton.render_main(options=options, revision=0)
    await asyncio.to_thread(directory.mkdir, mode=0o700, exist_ok=True)
    await asyncio.to_thread(conf.write_text, main)
    message = await checking.check(binary=binary, prefix=layout.root, conf=conf)
    if message is not None:
        hint = f" (on Debian and Ubuntu: apt-get install {modules.LUA_PACKAGES})"
        raise NginxFailed(f"nginx refused its base configuration: {message}{hint}")


@contextlib.asynccontextmanager
async def running(settings: RouterSettings) -> AsyncIterator[Router]:
    """The whole router agent in this event loop, for tests and benchmarks; closed on exit."""
    async with make_runner(settings) as service:
        router = await start(service, settings)
        try:
            yield router
        finally:
            await router.membership.leave()  # its nginx stops with it


def run(settings: RouterSettings) -> int:
    """Serve until SIGTERM/SIGINT (or `STOP_NGINX_SIGNAL`); the process's exit code."""

    async def begin(service: Service) -> None:
        # In before the start-up: a `deisctl down` meanwhile must not kill the agent with the
        # signal's default, and must stop nginx.
        loop = asyncio.get_running_loop()
        asked = asyncio.Event()
        loop.add_signal_handler(STOP_NGINX_SIGNAL, _stop_with_nginx, asked)
        router = await start(service, settings, keep_nginx=True)
        if asked.is_set():
            router.ctx.master.keep_running = False
        else:
            loop.add_signal_handler(STOP_NGINX_SIGNAL, _stop_with_nginx, asked, router.ctx.master)

        async def leave_with_nginx() -> None:
            # Stopped for good, the router takes its key along: nobody waits for it. Left
            # running for the next agent, its key stays (and lapses if none comes).
            if not router.ctx.master.keep_running:
                await router.membership.leave()

        service.on_stop(leave_with_nginx)

    return shared_runner.run(make_runner(settings), begin)


def _stop_with_nginx(asked: asyncio.Event, master: nginx_master.NginxMaster | None = None) -> None:
    logger.info("stopping, and stopping nginx too")
    asked.set()
    if master is not None:
        master.keep_running = False
    # The runner stops on SIGTERM; raising it here is its one way in.
    signal.raise_signal(signal.SIGTERM)
