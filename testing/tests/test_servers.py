"""The servers the plugin starts are real and isolated per test."""

import asyncio
import socket

import asyncpg
import nats
import pytest

from deis_testing import NatsServer, PostgresServer, S3Server, free_port


async def test_pg_dsn_is_a_fresh_database(pg_dsn: str) -> None:
    conn = await asyncpg.connect(pg_dsn)
    try:
        version = await conn.fetchval("SHOW server_version_num")
        tables = await conn.fetchval(
            "SELECT count(*) FROM pg_tables"
            " WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
        )
    finally:
        await conn.close()
    assert int(version) >= 130000
    assert tables == 0


async def test_two_tests_never_share_a_database(
    postgres_server: PostgresServer, pg_dsn: str
) -> None:
    assert pg_dsn != postgres_server.dsn()
    assert pg_dsn.rsplit("/", 1)[1].startswith("db_")


async def test_nats_server_has_jetstream(nats_server: NatsServer, unique: str) -> None:
    nc = await nats.connect(nats_server.url)
    try:
        js = nc.jetstream()
        info = await js.account_info()
        await js.add_stream(name=unique, subjects=[f"{unique}.>"])
        ack = await js.publish(f"{unique}.x", b"hello")
        await js.delete_stream(unique)
    finally:
        await nc.close()
    assert info.limits is not None
    assert ack.seq == 1


def test_restarted_nats_server_keeps_port_and_streams(nats_server_factory) -> None:
    server = nats_server_factory()

    async def put() -> None:
        nc = await nats.connect(server.url)
        try:
            kv = await nc.jetstream().create_key_value(bucket="keep")
            await kv.put("k", b"v")
        finally:
            await nc.close()

    async def get() -> bytes | None:
        nc = await nats.connect(server.url)
        try:
            kv = await nc.jetstream().key_value("keep")
            return (await kv.get("k")).value
        finally:
            await nc.close()

    asyncio.run(put())
    port = server.port
    server.restart()
    assert server.port == port
    assert asyncio.run(get()) == b"v"


def test_s3_server_answers(s3_server: S3Server) -> None:
    with socket.create_connection(("127.0.0.1", s3_server.port), timeout=2) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        reply = sock.recv(64)
    assert reply.startswith(b"HTTP/1.1 200")


def test_free_port_is_bindable() -> None:
    port = free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


# A whole pytest process (with every installed plugin) starts inside: no unit-test budget.
@pytest.mark.timeout(30)
async def test_leaked_task_guard_fails_a_leaking_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import asyncio

        async def test_leaks():
            asyncio.create_task(asyncio.sleep(30), name="forgotten")
        """
    )
    pytester.makeini(
        "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"
    )
    result = pytester.runpytest_subprocess("-p", "deis_testing.plugin")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*left 1 asyncio task(s) running: forgotten*"])
