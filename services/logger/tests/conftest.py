"""Fixtures: a private nats-server (the `LOGS` stream has one fixed name), a filesystem object
store, and a logger running in this event loop; lines are published as the scheduler's shipper
publishes them (core NATS, one `LogLine` per line on `deis.logs.<app>`).
"""

import asyncio
import contextlib
import gzip
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nats
import nats.aio.client
import nats.js
import pytest

from deis_logger import service
from deis_logger.service import Logger
from deis_logger.settings import LoggerSettings
from deis_shared import wire
from deis_shared.bus import errors as bus_errors, requesting, topology
from deis_shared.events import logs
from deis_shared.objectstore import errors as store_errors
from deis_shared.objectstore.filesystem import FilesystemStore
from deis_shared.rpc import logger as logger_rpc
from deis_testing import NatsServer, unique_name


async def _until(check: Callable[[], Awaitable[Any]], seconds: float = 20.0) -> Any:
    """Poll the coroutine function `check` until it returns a truthy value."""
    async with asyncio.timeout(seconds):
        for _ in itertools.count():
            if result := await check():
                return result
            await asyncio.sleep(0.02)
    raise AssertionError("unreachable")


@dataclass
class Bench:
    """A nats-server, a client, an object store and the settings of a logger on them."""

    server: NatsServer
    nc: nats.aio.client.Client
    js: nats.js.JetStreamContext
    store: FilesystemStore
    settings: LoggerSettings

    @contextlib.asynccontextmanager
    async def logger(self, **overrides: Any) -> AsyncIterator[Logger]:
        """A logger in this event loop (`async with bench.logger() as logger:`), once its tail
        RPC answers: the server may see its subscription a moment after the start returned."""
        async with service.running(self.settings.model_copy(update=overrides)) as running:
            await _until(self._answers)
            yield running

    async def _answers(self) -> bool:
        request = logger_rpc.TailRequest(app="probe", lines=1)
        try:
            await requesting.request(
                self.nc,
                subject=logger_rpc.TAIL_SUBJECT,
                payload=request,
                reply_type=logger_rpc.TailReply,
                timeout=5,
            )
        except bus_errors.NoResponders:
            return False
        return True

    async def publish(self, lines: Iterable[logs.LogLine]) -> int:
        """Publish lines as the shipper does; return how many once the server has them."""
        count = 0
        for line in lines:
            await self.nc.publish(logs.subject(line.app), wire.encode(line))
            count += 1
        await self.nc.flush()
        return count

    async def stored(self, app: str) -> int:
        """Lines of `app` in `LOGS`."""
        subject = logs.subject(app)
        info = await self.js.stream_info(logs.STREAM, subjects_filter=subject)
        return (info.state.subjects or {}).get(subject, 0)

    async def archived(self, key: str) -> list[str] | None:
        """The lines of the archive `key`, or None while it does not exist."""
        try:
            data = await self.store.get_bytes(key)
        except store_errors.ObjectNotFound:
            return None
        return gzip.decompress(data).decode().splitlines()


@pytest.fixture
async def bench(
    nats_server_factory: Callable[[], NatsServer], tmp_path: Path
) -> AsyncIterator[Bench]:
    """A private server and store; loggers are started by the test (`bench.logger()`)."""
    server = nats_server_factory()
    settings = LoggerSettings(
        nats_url=server.url,
        data_dir=tmp_path / "logger",
        object_store="filesystem",
        object_store_root=tmp_path / "objects",
        archive_grace=0.0,
        archive_check_interval=0.1,
        archive_poll=0.1,
        shutdown_timeout=10.0,
    )
    store = FilesystemStore(tmp_path / "objects")
    await store.prepare()
    nc = await nats.connect(server.url)
    # As any service starting first would: the stream exists before a logger ever ran.
    await topology.ensure_topology(nc.jetstream())
    try:
        yield Bench(server=server, nc=nc, js=nc.jetstream(), store=store, settings=settings)
    finally:
        await nc.close()


@pytest.fixture
def app_name() -> str:
    """An app name of this test's own."""
    return unique_name("app-")


@pytest.fixture
def until() -> Callable[..., Any]:
    """`await until(check)`: poll the coroutine function `check` until it returns a truthy value."""
    return _until
