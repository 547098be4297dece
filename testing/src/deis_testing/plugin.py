"""pytest plugin: real servers started once per session, unique names per test, strictness.

Loaded from the root configuration with `-p deis_testing.plugin`. Servers start in synchronous
session fixtures (subprocesses and threads), so no async fixture needs a session-wide event
loop; tests build their own clients and close them.

`kube_api` is the exception to real servers: an emulated Kubernetes API (`deis_testing.kube`),
one per test, on the test's own event loop.

Every test that uses a server fixture is marked `integration` and gets the configured timeout
(60 s); other tests get 5 s. Coroutine tests also get a guard that fails them when they leave
asyncio tasks running.
"""

import asyncio
import inspect
import os
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING

import asyncpg
import pytest

from deis_testing.naming import unique_name
from deis_testing.nats import NatsServer
from deis_testing.pebble import PebbleServer
from deis_testing.postgres import PostgresServer
from deis_testing.s3 import S3Server

if TYPE_CHECKING:
    from deis_testing.kube import KubeEmulator

UNIT_TIMEOUT = 5.0
SERVER_FIXTURES = frozenset(
    {
        "postgres_server",
        "pg_dsn",
        "module_pg_dsn",
        "nats_server",
        "module_nats_server",
        "nats_server_factory",
        "s3_server",
        "kube_api",
        "pebble_server",
    }
)


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register `--e2e`."""
    parser.addoption("--e2e", action="store_true", help="run end-to-end tests (marker e2e)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark server tests `integration`, set unit timeouts, gate e2e, guard async tests."""
    skip_e2e = pytest.mark.skip(reason="end-to-end test: run with --e2e")
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        if names & SERVER_FIXTURES and item.get_closest_marker("integration") is None:
            item.add_marker(pytest.mark.integration)
        if (
            item.get_closest_marker("timeout") is None
            and item.get_closest_marker("integration") is None
            and item.get_closest_marker("e2e") is None
        ):
            item.add_marker(pytest.mark.timeout(UNIT_TIMEOUT))
        if item.get_closest_marker("e2e") is not None and not config.getoption("--e2e"):
            item.add_marker(skip_e2e)
        function = getattr(item, "function", None)
        if function is not None and inspect.iscoroutinefunction(function):
            item.fixturenames.insert(0, "_no_leaked_tasks")  # type: ignore[attr-defined]


@pytest.fixture
async def _no_leaked_tasks() -> AsyncIterator[None]:
    """Fail a test that leaves asyncio tasks behind (after a few loop turns to let them end)."""
    before = asyncio.all_tasks()
    yield
    leaked: list[asyncio.Task[object]] = []
    for _ in range(20):
        current = asyncio.current_task()
        leaked = [t for t in asyncio.all_tasks() - before if t is not current and not t.done()]
        if not leaked:
            return
        await asyncio.sleep(0.005)
    for task in leaked:
        task.cancel()
    await asyncio.gather(*leaked, return_exceptions=True)
    names = ", ".join(sorted(f"{t.get_name()} ({t.get_coro()!r})" for t in leaked))
    pytest.fail(f"test left {len(leaked)} asyncio task(s) running: {names}")


@pytest.fixture
def unique() -> str:
    """A name no other test uses: for streams, buckets, schemas, databases, apps."""
    return unique_name()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL cluster for the whole session."""
    server = PostgresServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def pg_dsn(postgres_server: PostgresServer) -> AsyncIterator[str]:
    """A connection URL to a fresh database of this test's own, dropped afterwards."""
    name = unique_name("db_")
    admin = await asyncpg.connect(postgres_server.dsn())
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield postgres_server.dsn(name)
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture(scope="module")
def module_pg_dsn(postgres_server: PostgresServer) -> Iterator[str]:
    """A database of this test module's own, for the services it starts once for all its tests."""
    name = unique_name("db_")

    async def run(sql: str) -> None:
        admin = await asyncpg.connect(postgres_server.dsn())
        try:
            await admin.execute(sql)
        finally:
            await admin.close()

    asyncio.run(run(f'CREATE DATABASE "{name}"'))
    try:
        yield postgres_server.dsn(name)
    finally:
        asyncio.run(run(f'DROP DATABASE "{name}" WITH (FORCE)'))


def _nats_server() -> Iterator[NatsServer]:
    server = NatsServer()
    server.start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="module")
def module_nats_server() -> Iterator[NatsServer]:
    """A nats-server of this test module's own, for the services it starts once."""
    yield from _nats_server()


@pytest.fixture(scope="session")
def nats_server() -> Iterator[NatsServer]:
    """A nats-server with JetStream for the whole session. Tests must use unique names on it."""
    yield from _nats_server()


@pytest.fixture
def nats_server_factory() -> Iterator[Callable[[], NatsServer]]:
    """Start private nats-servers: for tests that restart them or need the fixed topology."""
    servers: list[NatsServer] = []

    def start() -> NatsServer:
        server = NatsServer()
        servers.append(server)
        server.start()
        return server

    try:
        yield start
    finally:
        for server in servers:
            server.close()


PEBBLE_BLOCKED = ("rejected.test",)
"""Names the session's Pebble refuses to order (and every name under them)."""


@pytest.fixture(scope="session")
def pebble_server() -> Iterator[PebbleServer]:
    """Pebble (a test ACME server) for the session.

    Every challenge passes unchecked, names under `PEBBLE_BLOCKED` are refused, certificates
    last 90 days.
    """
    server = PebbleServer(always_valid=True, blocked=PEBBLE_BLOCKED, validity_seconds=90 * 86_400)
    server.start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """Moto's S3 server for the whole session. Tests create uniquely named buckets."""
    server = S3Server()
    server.start()
    try:
        yield server
    finally:
        server.stop()


KUBE_REQUEST_LOG = "DEIS_KUBE_REQUEST_LOG"
"""A file to which every emulator appends the requests it served (`METHOD path?query` per
line): how tests/helm learns which API calls the backend's tests make, for the chart's RBAC."""


def _record_requests(requests: list[tuple[str, str]]) -> None:
    log = os.environ.get(KUBE_REQUEST_LOG)
    if log:
        with open(log, "a") as file:
            file.writelines(f"{method} {path}\n" for method, path in requests)


@pytest.fixture
async def kube_api() -> AsyncIterator["KubeEmulator"]:
    """A Kubernetes API emulator of this test's own, started on a free port.

    Steer it through its attributes (`behaviour`, `set_nodes`, `timings`, `compact`,
    `end_watches`). At teardown the test fails if the emulator refused an invalid object
    (clear `kube_api.invalid` in a test that sends one on purpose) or failed itself.
    """
    from deis_testing.kube import KubeEmulator  # imported here: aiohttp and the schemas load slowly

    emulator = KubeEmulator()
    await emulator.start()
    try:
        yield emulator
    finally:
        await emulator.stop()
        _record_requests(emulator.requests)
    problems = emulator.problems()
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)
