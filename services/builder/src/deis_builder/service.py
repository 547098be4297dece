"""The builder process: the service runner's clients, the hook socket and the SSH server.

    settings → pool (schema `builder`, migrations) → NATS → object store → hook socket → SSH

At SIGTERM the SSH server stops accepting and waits for pushes in progress within the
shutdown deadline (a push cut short is rejected, so nothing half-done is left), then the hook
socket closes, then the runner drains NATS and closes the pool.
"""

import asyncio
import contextlib
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass

from deis_builder import settings as builder_settings
from deis_builder.app.context import Context
from deis_builder.app.prereceive import HookServer
from deis_builder.buildpacks import sandboxing
from deis_builder.settings import BuilderSettings
from deis_builder.ssh.server import SshServer
from deis_shared import runner as shared_runner, sandbox
from deis_shared.db import migrations
from deis_shared.runner import MigrationSet, Service, ServiceRunner

SCHEMA = "builder"
COMPONENT = "builder"
"""Component name of the builder's own migrations."""


@dataclass(frozen=True)
class Builder:
    """A started builder: its context and SSH server."""

    ctx: Context
    ssh: SshServer


def make_runner(settings: BuilderSettings) -> ServiceRunner:
    """The service runner opening the builder's pool, migrations, NATS and object store."""
    return ServiceRunner(
        settings,
        schema=SCHEMA,
        migrations=[MigrationSet(COMPONENT, migrations.load_migrations("deis_builder"))],
    )


async def start(service: Service, settings: BuilderSettings) -> Builder:
    """Open the hook socket and the SSH server on the runner's clients."""
    if service.pool is None or service.bus is None or service.store is None:
        raise RuntimeError("the builder needs its pool, NATS and object store")
    scratch = settings.data_dir / "builds"
    # Builds cut short by a crash left their scratch directories; nothing resumes them.
    await asyncio.to_thread(shutil.rmtree, scratch, ignore_errors=True)
    # Builds run only in their sandboxes: a host that cannot make them builds nothing.
    await asyncio.to_thread(sandbox.check_available)
    uids = builder_settings.build_uids(settings)
    if uids is not None:
        await asyncio.to_thread(
            sandboxing.open_data_dir,
            data_dir=settings.data_dir,
            scratch=scratch,
            caches=settings.data_dir / "cache",
            repos=settings.data_dir / "repos",
        )
    hooks = HookServer(output_limit=settings.build_output_limit)
    await hooks.start()
    ctx = Context(
        settings=settings,
        pool=service.pool,
        nc=service.bus.nc,
        js=service.bus.js,
        store=service.store,
        hooks=hooks,
        env=builder_settings.git_environment(),
        build_env={**builder_settings.build_environment(), **settings.build_env},
        python=settings.python or "python3",
        uids=uids,
    )
    ssh = SshServer(ctx)

    async def stop_accepting() -> None:
        try:
            await ssh.close()
        finally:
            await hooks.close()

    service.on_stop(stop_accepting)
    try:
        await ssh.start()
    except BaseException:
        await stop_accepting()
        raise
    return Builder(ctx=ctx, ssh=ssh)


@contextlib.asynccontextmanager
async def running(settings: BuilderSettings) -> AsyncIterator[Builder]:
    """The whole builder in this event loop, for tests and benchmarks; closed on exit."""
    async with make_runner(settings) as service:
        yield await start(service, settings)


def run(settings: BuilderSettings) -> int:
    """Serve until SIGTERM/SIGINT; the process's exit code."""

    async def begin(service: Service) -> None:
        await start(service, settings)

    return shared_runner.run(make_runner(settings), begin)
