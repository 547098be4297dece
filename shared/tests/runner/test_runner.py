"""The service runner opens every resource in order and closes them all in reverse."""

import asyncio
import uuid
from pathlib import Path

import asyncpg
import nats
import pytest

from deis_shared import runner, wire
from deis_shared.bus import connection, errors as bus_errors
from deis_shared.db import migrations
from deis_shared.events import release
from deis_shared.outbox import outbox
from deis_shared.settings import ServiceSettings
from deis_shared.tasks import SupervisorState
from deis_testing import NatsServer

SERVICE_MIGRATIONS = migrations.parse_migrations(
    [
        ("0001_things.sql", "CREATE TABLE things (name text PRIMARY KEY);"),
        ("0002_seed.sql", "SELECT pg_sleep(0.2); INSERT INTO things VALUES ('seed');"),
    ]
)


def _settings(*, dsn: str, nats_url: str, root: Path) -> ServiceSettings:
    return ServiceSettings(
        service_name="probe",
        database_url=dsn,
        nats_url=nats_url,
        object_store_root=root,
        health_port=0,
        shutdown_timeout=10,
    )


def _runner(settings: ServiceSettings) -> runner.ServiceRunner:
    return runner.ServiceRunner(
        settings,
        schema="probe",
        migrations=[runner.MigrationSet("probe", SERVICE_MIGRATIONS)],
        outbox=True,
    )


async def _http_status(port: int, path: str) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    raw = await reader.read()
    writer.close()
    await writer.wait_closed()
    return int(raw.split()[1])


async def test_opens_everything_and_closes_it_all(
    pg_dsn: str, nats_server_factory, tmp_path: Path
) -> None:
    server = nats_server_factory()
    service_runner = _runner(_settings(dsn=pg_dsn, nats_url=server.url, root=tmp_path))
    order: list[str] = []
    async with service_runner as service:
        assert service.pool is not None
        assert service.bus is not None
        assert service.store is not None
        assert service_runner.health_server is not None
        port = service_runner.health_server.port
        assert await service.pool.fetchval("SELECT name FROM things") == "seed"
        assert service.bus.state is connection.BusState.CONNECTED
        await service.store.put_bytes(key="probe/one", data=b"1")
        assert await service.store.get_bytes("probe/one") == b"1"
        assert await _http_status(port, "/readyz") == 200
        assert service.tasks.names == ["outbox-relay"]

        async def stop_accepting() -> None:
            order.append(f"stop accepting, tasks {service.tasks.state.value}")

        service.on_stop(stop_accepting)

        # The runner's relay publishes what a transaction commits to the outbox.
        event = release.ReleaseCreated(
            app="myapp",
            release_id=uuid.uuid4(),
            version=2,
            summary="alice deployed 1234567",
            owner="alice",
            created=wire.utc_now(),
        )
        async with service.pool.acquire() as conn, conn.transaction():
            await outbox.enqueue_event(
                conn, subject=release.created_subject("myapp"), message=event
            )
        sub = await service.bus.js.subscribe(
            release.created_subject("myapp"), ordered_consumer=True
        )
        msg = await sub.next_msg(timeout=5)
        await sub.unsubscribe()
        assert wire.decode(msg.data, release.ReleaseCreated) == event
        assert msg.headers is not None
        assert msg.headers["Nats-Msg-Id"] == str(event.id)
    assert order == ["stop accepting, tasks running"]
    assert service.pool.is_closing()
    assert service.bus.state is connection.BusState.CLOSED
    assert service.tasks.state is SupervisorState.STOPPED
    assert not service.health.ready
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection("127.0.0.1", port)


async def test_two_runners_starting_together_apply_migrations_once(
    pg_dsn: str, nats_server_factory, tmp_path: Path
) -> None:
    server = nats_server_factory()
    first = _runner(_settings(dsn=pg_dsn, nats_url=server.url, root=tmp_path / "a"))
    second = _runner(_settings(dsn=pg_dsn, nats_url=server.url, root=tmp_path / "b"))
    await asyncio.gather(first.__aenter__(), second.__aenter__())
    try:
        conn = await asyncpg.connect(pg_dsn)
        try:
            seeds = await conn.fetchval("SELECT count(*) FROM probe.things")
            applied = await conn.fetch(
                "SELECT component, version FROM probe.schema_migrations ORDER BY 1, 2"
            )
        finally:
            await conn.close()
    finally:
        await asyncio.gather(first.__aexit__(None, None, None), second.__aexit__(None, None, None))
    assert seeds == 1
    assert [(r["component"], r["version"]) for r in applied] == [
        ("outbox", 1),
        ("outbox", 2),
        ("probe", 1),
        ("probe", 2),
    ]


async def test_a_failed_start_closes_what_it_had_opened(pg_dsn: str, tmp_path: Path) -> None:
    closed_port = "nats://127.0.0.1:1"
    settings = _settings(dsn=pg_dsn, nats_url=closed_port, root=tmp_path)
    settings = settings.model_copy(update={"nats_connect_timeout": 0.5, "startup_wait": 0})
    with pytest.raises(bus_errors.BusUnavailable):
        async with _runner(settings):
            pytest.fail("the runner started without NATS")
    conn = await asyncpg.connect(pg_dsn)
    try:
        others = await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    finally:
        await conn.close()
    assert others == 0


async def test_services_without_tables_need_no_database(
    nats_server_factory, tmp_path: Path
) -> None:
    server = nats_server_factory()
    settings = ServiceSettings(nats_url=server.url, object_store="none", health_port=None)
    async with runner.ServiceRunner(settings) as service:
        assert service.pool is None
        assert service.store is None
        assert service.bus is not None
        nc = await nats.connect(server.url)
        try:
            info = await nc.jetstream().stream_info("EVENTS")
        finally:
            await nc.close()
        assert info.config.subjects == ["deis.events.>"]


def test_an_outbox_needs_a_schema() -> None:
    with pytest.raises(ValueError, match="need a schema"):
        runner.ServiceRunner(ServiceSettings(), outbox=True)


async def test_a_start_waits_for_a_server_that_comes_late_and_says_so(
    pg_dsn: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    late = NatsServer(store_dir=tmp_path / "nats")
    late.store_dir.mkdir()
    settings = _settings(dsn=pg_dsn, nats_url=late.url, root=tmp_path)
    settings = settings.model_copy(update={"nats_connect_timeout": 0.5, "startup_wait": 30})
    loop = asyncio.get_running_loop()
    loop.call_later(1.5, late.start)
    try:
        async with _runner(settings) as service:
            assert service.bus is not None
    finally:
        late.stop()
    waited = [r.getMessage() for r in caplog.records if "cannot start yet" in r.getMessage()]
    assert waited, "no line said the service waits"
    assert "cannot connect to NATS" in waited[0]
    assert "trying again in" in waited[0]
