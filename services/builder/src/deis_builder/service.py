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

from deis_builder.app.context import Context
from deis_builder.app.hooks import HookServer
from deis_builder.buildpacks import python as python_pack
from deis_builder.settings import BuilderSettings, build_environment
from deis_builder.ssh.server import SshServer
from deis_shared import runner as shared_runner
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
    env = {**build_environment(), **settings.build_env}
    python = settings.python
    if python is None:
        python = await asyncio.to_thread(python_pack.find_interpreter, env)
    hooks = HookServer(output_limit=settings.build_output_limit)
    await hooks.start()
    ctx = Context(
        settings=settings,
        pool=service.pool,
        nc=service.bus.nc,
        js=service.bus.js,
        store=service.store,
        hooks=hooks,
        env=env,
        python=python,
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
