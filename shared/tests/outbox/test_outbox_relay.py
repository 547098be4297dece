import asyncio
import signal
import sys
import uuid
from datetime import timedelta
from pathlib import Path

import nats
import pytest
from nats.js.api import StreamConfig

from deis_shared.db import pool as db_pool
from deis_shared.outbox import outbox, relay, retention, rounds

CHILD = Path(__file__).parent / "relay_child.py"


async def connect(url):
    return await nats.connect(
        url, max_reconnect_attempts=-1, reconnect_time_wait=0.05, connect_timeout=2
    )


@pytest.fixture
async def js(nats_server, unique):
    nc = await connect(nats_server.url)
    js = nc.jetstream()
    await js.add_stream(
        StreamConfig(name=unique.upper(), subjects=[f"{unique}.>"], duplicate_window=120)
    )
    try:
        yield js
    finally:
        await js.delete_stream(unique.upper())
        await nc.close()


async def enqueue(pool, *, subject, message=b"x", **kw):
    async with pool.acquire() as conn, conn.transaction():
        return await outbox.enqueue_event(conn, subject=subject, message=message, **kw)


async def stream_msgs(js, stream):
    return (await js.stream_info(stream)).state.messages


async def unsent(pool):
    return await pool.fetch(
        "SELECT id, attempts, last_error, next_attempt_at FROM outbox "
        "WHERE sent_at IS NULL ORDER BY seq"
    )


def test_backoff_doubles_up_to_the_cap():
    b = rounds.Backoff(base=0.5, cap=3.0)
    assert [b.delay(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert b.delay(10_000) == 3.0


async def test_committed_event_is_published_with_the_row_id(pool, js, unique):
    stream = unique.upper()
    async with pool.acquire() as conn:
        tr = conn.transaction()
        await tr.start()
        await outbox.enqueue_event(conn, subject=f"{unique}.rolled", message=b"never")
        await tr.rollback()
    row_id = await enqueue(pool, subject=f"{unique}.a", message=b"hello", headers={"X-A": "1"})

    assert await relay.relay_once(pool, js=js, schema=unique) == 1
    assert await relay.relay_once(pool, js=js, schema=unique) == 0
    assert await stream_msgs(js, stream) == 1
    msg = await js.get_msg(stream, 1)
    assert msg.subject == f"{unique}.a"
    assert msg.data == b"hello"
    assert msg.headers["Nats-Msg-Id"] == str(row_id)
    assert msg.headers["X-A"] == "1"
    assert await unsent(pool) == []


async def test_kv_writes_land_in_order(pool, js, unique):
    kv = await js.create_key_value(bucket=unique, history=10)
    try:
        async with pool.acquire() as conn, conn.transaction():
            for value in (b"v1", b"v2", b"v3"):
                await outbox.enqueue_kv_put(conn, bucket=unique, key="app", value=value)
            await outbox.enqueue_kv_put(conn, bucket=unique, key="gone", value=b"x")
            await outbox.enqueue_kv_delete(conn, bucket=unique, key="gone")
        assert await relay.drain(pool, js=js, schema=unique, batch_size=2) == 5
        assert [e.value for e in await kv.history("app")] == [b"v1", b"v2", b"v3"]
        assert (await kv.get("app")).value == b"v3"
        with pytest.raises(nats.js.errors.KeyNotFoundError):
            await kv.get("gone")
    finally:
        await js.delete_key_value(unique)


async def test_failed_kv_row_holds_back_later_rows_of_its_key(new_clock, pool, js, unique):
    clock = new_clock()
    backoff = rounds.Backoff(base=10, cap=60)
    async with pool.acquire() as conn, conn.transaction():
        first = await outbox.enqueue_kv_put(conn, bucket=unique, key="k", value=b"a")
        second = await outbox.enqueue_kv_put(conn, bucket=unique, key="k", value=b"b")
        await outbox.enqueue_event(conn, subject=f"{unique}.ev", message=b"e")
    once = {"js": js, "schema": unique, "clock": clock, "backoff": backoff, "publish_timeout": 1}
    # No bucket yet: the first put fails, the second is held back, the event goes out.
    assert await relay.relay_once(pool, **once) == 1
    rows = {r["id"]: r for r in await unsent(pool)}
    assert rows[first]["attempts"] == 1
    assert "NoStreamResponse" in rows[first]["last_error"]
    assert rows[first]["next_attempt_at"] == clock.now + timedelta(seconds=10)
    assert rows[second]["attempts"] == 0
    kv = await js.create_key_value(bucket=unique, history=10)
    try:
        # The second row is due but must not overtake the first, which waits out its backoff.
        assert await relay.relay_once(pool, **once) == 0
        clock.advance(10)
        assert await relay.relay_once(pool, **once) == 2
        assert [e.value for e in await kv.history("k")] == [b"a", b"b"]
    finally:
        await js.delete_key_value(unique)


async def test_nats_away_keeps_rows_and_publishes_when_back(
    new_clock, pool, nats_server_factory, unique
):
    server = nats_server_factory()
    nc = await connect(server.url)
    try:
        js = nc.jetstream()
        stream = unique.upper()
        await js.add_stream(
            StreamConfig(name=stream, subjects=[f"{unique}.>"], duplicate_window=120)
        )
        clock = new_clock()
        backoff = rounds.Backoff(base=2, cap=60)
        once = {
            "js": js,
            "schema": unique,
            "clock": clock,
            "backoff": backoff,
            "publish_timeout": 0.2,
        }
        row_id = await enqueue(pool, subject=f"{unique}.a")
        await enqueue(pool, subject=f"{unique}.b")
        server.stop()

        assert await relay.relay_once(pool, **once) == 0
        rows = await unsent(pool)
        assert rows[0]["id"] == row_id
        # The first failure stops the round: the second row was not even tried.
        assert [r["attempts"] for r in rows] == [1, 0]
        assert rows[0]["last_error"]
        assert rows[0]["next_attempt_at"] == clock.now + timedelta(seconds=2)

        clock.advance(2)
        assert await relay.relay_once(pool, **once) == 0
        assert [r["attempts"] for r in await unsent(pool)] == [2, 0]
        assert (await unsent(pool))[0]["next_attempt_at"] == clock.now + timedelta(seconds=4)

        server.start()
        for _ in range(200):
            if nc.is_connected:
                break
            await asyncio.sleep(0.02)
        assert nc.is_connected
        clock.advance(4)
        total = 0
        for _ in range(50):  # JetStream may need a moment after the restart
            total += await relay.relay_once(pool, **once)
            if not await unsent(pool):
                break
            clock.advance(60)
            await asyncio.sleep(0.05)
        assert total == 2
        assert await unsent(pool) == []
        # The attempt lost while the server was down may have been delivered on reconnect;
        # the Nats-Msg-Id keeps the stream at one copy of each.
        assert await stream_msgs(js, stream) == 2
    finally:
        await nc.close()


async def test_relay_killed_between_publish_and_mark_sent_publishes_once(
    pool, js, unique, pg_dsn, nats_server
):
    stream = unique.upper()
    row_id = await enqueue(pool, subject=f"{unique}.a", message=b"once")
    child = await asyncio.create_subprocess_exec(
        sys.executable, str(CHILD), pg_dsn, unique, nats_server.url,
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert child.stdout is not None
        line = await asyncio.wait_for(child.stdout.readline(), 20)
        assert line.decode().strip() == f"PUBLISHED {row_id}"
    finally:
        child.send_signal(signal.SIGKILL)
        await child.wait()
    assert child.returncode == -signal.SIGKILL
    assert await stream_msgs(js, stream) == 1
    assert [r["id"] for r in await unsent(pool)] == [row_id]  # never marked sent

    # Postgres releases the dead relay's row lock once it sees the socket close.
    published = 0
    for _ in range(200):
        published = await relay.relay_once(pool, js=js, schema=unique)
        if published:
            break
        await asyncio.sleep(0.02)
    assert published == 1
    assert await unsent(pool) == []
    assert await stream_msgs(js, stream) == 1
    msg = await js.get_msg(stream, 1)
    assert msg.data == b"once"
    assert msg.headers["Nats-Msg-Id"] == str(row_id)


async def test_two_relays_publish_each_of_500_rows_once(pool, js, unique, pg_dsn, nats_server):
    stream = unique.upper()
    async with pool.acquire() as conn, conn.transaction():
        for i in range(500):
            await outbox.enqueue_event(conn, subject=f"{unique}.n", message=str(i).encode())
    published: list[uuid.UUID] = []

    async def count(row_id):
        published.append(row_id)
        await asyncio.sleep(0)  # let the other relay interleave

    async def one_relay():
        async with db_pool.open_pool(dsn=pg_dsn, schema=unique, min_size=1, max_size=2) as own:
            nc = await connect(nats_server.url)
            try:
                total = 0
                while n := await relay.relay_once(
                    own, js=nc.jetstream(), schema=unique, batch_size=25, after_publish=count
                ):
                    total += n
                return total
            finally:
                await nc.close()

    totals = await asyncio.gather(one_relay(), one_relay())
    assert sum(totals) == 500
    assert len(published) == 500
    assert len(set(published)) == 500
    assert await stream_msgs(js, stream) == 500
    assert await unsent(pool) == []


async def test_delete_sent_keeps_recent_and_unsent_rows(new_clock, pool, js, unique):
    clock = new_clock()
    await enqueue(pool, subject=f"{unique}.old")
    assert await relay.relay_once(pool, js=js, schema=unique, clock=clock) == 1
    clock.advance(3600)
    await enqueue(pool, subject=f"{unique}.new")
    assert await relay.relay_once(pool, js=js, schema=unique, clock=clock) == 1
    await enqueue(pool, subject=f"{unique}.unsent")
    deleted = await retention.delete_sent(
        pool, schema=unique, older_than=timedelta(minutes=30), clock=clock
    )
    assert deleted == 1
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 2


async def test_close_is_idempotent_and_safe_before_run(pool, js, unique):
    r = relay.OutboxRelay(pool=pool, js=js, schema=unique)
    assert r.state is relay.RelayState.NEW
    await r.close()
    await r.close()
    assert r.state is relay.RelayState.CLOSED
    await asyncio.wait_for(r.run(), 1)  # returns at once: closed before start
    assert r.state is relay.RelayState.CLOSED


async def test_running_relay_wakes_on_notify_and_relistens(pool, js, unique):
    stream = unique.upper()
    # A poll interval far beyond the test's patience: only notifications can wake it.
    r = relay.OutboxRelay(pool=pool, js=js, schema=unique, poll_interval=60)
    task = asyncio.create_task(r.run())
    try:
        for _ in range(200):
            if r.listening:
                break
            await asyncio.sleep(0.01)
        assert r.state is relay.RelayState.RUNNING
        await enqueue(pool, subject=f"{unique}.a")
        await wait_for(lambda: stream_msgs(js, stream), 1)

        # Kill the listening backend: the relay notices, listens again, and still wakes.
        old_pid = r._listen_conn.get_server_pid()
        await pool.execute("SELECT pg_terminate_backend($1)", old_pid)
        for _ in range(300):
            if r.listening and r._listen_conn.get_server_pid() != old_pid:
                break
            await asyncio.sleep(0.01)
        assert r.listening
        await enqueue(pool, subject=f"{unique}.b")
        await wait_for(lambda: stream_msgs(js, stream), 2)

        async def published():
            return r.published

        await wait_for(published, 2)  # counted after the round commits
        with pytest.raises(RuntimeError):
            await r.run()
    finally:
        await r.close()
        await r.close()
        await task
    assert r.state is relay.RelayState.CLOSED
    assert not r.listening


async def wait_for(probe, expected, within=5.0):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while (got := await probe()) != expected:
        assert loop.time() < deadline, f"still {got}, want {expected}"
        await asyncio.sleep(0.01)
