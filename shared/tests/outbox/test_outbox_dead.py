"""Dead rows: a row that cannot be published is set aside, reported once, and blocks nothing."""

import asyncio
import json
import logging
import uuid
from datetime import timedelta

import nats
import pytest
from nats.js.api import StreamConfig
from prometheus_client import CollectorRegistry

from deis_shared.outbox import dead, outbox, relay, retention, rounds


@pytest.fixture
async def nc(nats_server):
    nc = await nats.connect(nats_server.url, connect_timeout=2)
    try:
        yield nc
    finally:
        await nc.close()


@pytest.fixture
async def kv(nc, unique):
    js = nc.jetstream()
    kv = await js.create_key_value(bucket=unique, history=10)
    try:
        yield kv
    finally:
        await js.delete_key_value(unique)


async def put(pool, *, bucket, key, value):
    async with pool.acquire() as conn, conn.transaction():
        return await outbox.enqueue_kv_put(conn, bucket=bucket, key=key, value=value)


async def insert_raw(pool, *, kind, subject=None, bucket=None, key=None, payload=b"", headers):
    """A row written directly, with headers no enqueue function would set."""
    row_id = uuid.uuid4()
    await pool.execute(
        "INSERT INTO outbox (id, kind, subject, bucket, key, payload, headers) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7::text::jsonb)",
        row_id,
        kind,
        subject,
        bucket,
        key,
        payload,
        json.dumps(headers),
    )
    return row_id


async def row_state(pool, row_id):
    return await pool.fetchrow(
        "SELECT attempts, rejections, last_error, sent_at, dead_at FROM outbox WHERE id = $1",
        row_id,
    )


def dead_count(registry, **labels):
    return registry.get_sample_value("deis_outbox_dead_rows_total", labels) or 0.0


async def holds(kv, key, value):
    try:
        return (await kv.get(key)).value == value
    except nats.js.errors.KeyNotFoundError:
        return False


async def wait_until(probe, within=10.0):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not await probe():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def test_oversize_kv_put_dies_at_once_and_the_next_value_of_its_key_is_served(
    pool, nc, kv, unique, caplog
):
    js = nc.jetstream()
    limit = nc.max_payload
    # Over the limit only once the headers are counted: the client alone would send it,
    # and the server would answer by closing the connection.
    poison = await put(pool, bucket=unique, key="app", value=b"x" * (limit - 10))
    after = await put(pool, bucket=unique, key="app", value=b"fits")
    reported: list[dead.DeadRow] = []

    async def on_dead(conn, row):
        assert conn.is_in_transaction()
        reported.append(row)

    registry = CollectorRegistry()
    r = relay.OutboxRelay(
        pool=pool, js=js, schema=unique, poll_interval=0.02, on_dead=on_dead, registry=registry
    )
    task = asyncio.create_task(r.run())
    caplog.set_level(logging.ERROR, logger=dead.logger.name)
    try:
        await wait_until(lambda: holds(kv, "app", b"fits"))
        # Later rounds never report the dead row again: one more value goes out after it.
        await put(pool, bucket=unique, key="app", value=b"later")
        await wait_until(lambda: holds(kv, "app", b"later"))
    finally:
        await r.close()
        await task

    state = await row_state(pool, poison)
    assert state["dead_at"] is not None
    assert state["sent_at"] is None
    assert state["attempts"] == 1
    assert "MessageTooLarge" in state["last_error"]
    assert str(limit) in state["last_error"]
    assert (await row_state(pool, after))["sent_at"] is not None
    assert [e.value for e in await kv.history("app")] == [b"fits", b"later"]  # never the poison

    assert len(reported) == 1
    row = reported[0]
    assert (row.id, row.kind, row.bucket, row.key) == (poison, "kv_put", unique, "app")
    assert row.too_large
    assert row.attempts == 1
    assert row.max_payload == limit
    assert row.size > limit
    assert r.dead == 1
    assert dead_count(registry, kind="kv_put", bucket=unique) == 1.0
    errors = [rec for rec in caplog.records if rec.levelno == logging.ERROR]
    assert len(errors) == 1
    message = errors[0].getMessage()
    assert str(poison) in message
    assert f"kv_put to {unique}/app" in message
    assert "after 1 attempts" in message
    assert "max_payload" in message


async def test_a_row_refused_every_time_dies_after_max_attempts_and_frees_its_key(
    new_clock, pool, nc, kv, unique
):
    js = nc.jetstream()
    clock = new_clock()
    # JetStream refuses this put every time: its expected last sequence never comes.
    poison = await insert_raw(
        pool,
        kind="kv_put",
        bucket=unique,
        key="app",
        payload=b"stale",
        headers={"Nats-Expected-Last-Subject-Sequence": "999999"},
    )
    after = await put(pool, bucket=unique, key="app", value=b"next")
    reported: list[dead.DeadRow] = []

    async def on_dead(conn, row):
        reported.append(row)

    once = {
        "js": js,
        "schema": unique,
        "clock": clock,
        "backoff": rounds.Backoff(base=1, cap=60),
        "max_attempts": 3,
        "on_dead": on_dead,
    }
    for attempt, delay in ((1, 1), (2, 2)):
        done = await rounds.relay_round(pool, **once)
        assert done == rounds.Round(published=0, dead=())
        state = await row_state(pool, poison)
        assert (state["attempts"], state["rejections"], state["dead_at"]) == (
            attempt,
            attempt,
            None,
        )
        assert (await row_state(pool, after))["sent_at"] is None  # held back behind it
        clock.advance(delay)
    # The third refusal is the last: the row is set aside and the next value goes out.
    done = await rounds.relay_round(pool, **once)
    assert done.published == 1
    assert [row.id for row in done.dead] == [poison]
    state = await row_state(pool, poison)
    assert state["dead_at"] == clock.now
    assert (state["attempts"], state["rejections"]) == (3, 3)
    assert "wrong last sequence" in state["last_error"]
    assert (await kv.get("app")).value == b"next"
    assert len(reported) == 1
    assert not reported[0].too_large
    assert reported[0].attempts == 3

    # Dead is final: later rounds never try it again, even long after.
    clock.advance(3600)
    assert await rounds.relay_round(pool, **once) == rounds.Round()
    assert (await row_state(pool, poison))["attempts"] == 3
    assert [e.value for e in await kv.history("app")] == [b"next"]
    assert len(reported) == 1


async def test_always_failing_event_dies_after_max_attempts(new_clock, pool, nc, unique):
    js = nc.jetstream()
    clock = new_clock()
    row_id = await insert_raw(pool, kind="event", subject=f"{unique}.nostream", headers={})
    once = {"js": js, "schema": unique, "clock": clock, "max_attempts": 2}
    assert await rounds.relay_round(pool, **once) == rounds.Round()
    assert (await row_state(pool, row_id))["dead_at"] is None
    clock.advance(1)
    done = await rounds.relay_round(pool, **once)
    assert [(row.id, row.kind, row.subject, row.attempts) for row in done.dead] == [
        (row_id, "event", f"{unique}.nostream", 2)
    ]
    assert "NoStreamResponse" in done.dead[0].error
    assert (await row_state(pool, row_id))["dead_at"] == clock.now


async def test_nats_away_never_kills_a_row(new_clock, pool, nats_server_factory, unique):
    server = nats_server_factory()
    nc = await nats.connect(server.url, max_reconnect_attempts=-1, reconnect_time_wait=0.05)
    try:
        js = nc.jetstream()
        await js.add_stream(StreamConfig(name=unique.upper(), subjects=[f"{unique}.>"]))
        row_id = await insert_raw(pool, kind="event", subject=f"{unique}.a", headers={})
        server.stop()
        clock = new_clock()
        once = {"js": js, "schema": unique, "clock": clock, "max_attempts": 1}
        for _ in range(3):
            done = await rounds.relay_round(pool, publish_timeout=0.2, **once)
            assert done == rounds.Round()
            clock.advance(3600)
        state = await row_state(pool, row_id)
        assert (state["attempts"], state["rejections"], state["dead_at"]) == (3, 0, None)
        server.start()

        async def connected():
            return nc.is_connected

        await wait_until(connected)
    finally:
        await nc.close()


async def test_a_failing_hook_is_logged_and_the_row_still_dies(pool, nc, unique, caplog):
    js = nc.jetstream()
    row_id = await insert_raw(pool, kind="event", subject=f"{unique}.nostream", headers={})

    async def on_dead(conn, row):
        await conn.execute(
            "INSERT INTO outbox (id, kind, subject) VALUES ($1, 'event', 'a')", row.id
        )

    done = await rounds.relay_round(pool, js=js, schema=unique, max_attempts=1, on_dead=on_dead)
    assert [row.id for row in done.dead] == [row_id]
    assert (await row_state(pool, row_id))["dead_at"] is not None
    assert "dead-row hook failed" in caplog.text


async def test_what_the_hook_writes_commits_with_the_mark(pool, nc, unique):
    js = nc.jetstream()
    stream = unique.upper()
    await js.add_stream(StreamConfig(name=stream, subjects=[f"{unique}.>"]))
    try:
        row_id = await insert_raw(pool, kind="event", subject=f"{unique}x.none", headers={})

        async def on_dead(conn, row):
            await outbox.enqueue_event(conn, subject=f"{unique}.dead", message=str(row.id).encode())

        done = await rounds.relay_round(pool, js=js, schema=unique, max_attempts=1, on_dead=on_dead)
        assert [row.id for row in done.dead] == [row_id]
        assert await relay.drain(pool, js=js, schema=unique) == 1
        msg = await js.get_msg(stream, 1)
        assert (msg.subject, msg.data) == (f"{unique}.dead", str(row_id).encode())
    finally:
        await js.delete_stream(stream)


def test_wire_size_counts_the_header_block():
    assert dead.wire_size(b"abc", {}) == 3
    headers = {"Nats-Msg-Id": "1"}
    # NATS/1.0\r\n + Nats-Msg-Id: 1\r\n + \r\n
    assert dead.wire_size(b"abc", headers) == 3 + 10 + 16 + 2


async def test_dead_rows_are_kept_longer_than_sent_rows(new_clock, pool, nc, unique):
    js = nc.jetstream()
    clock = new_clock()
    row_id = await insert_raw(pool, kind="event", subject=f"{unique}.nostream", headers={})
    await rounds.relay_round(pool, js=js, schema=unique, max_attempts=1, clock=clock)
    clock.advance(2 * 86400)
    assert (
        await retention.delete_sent(pool, schema=unique, older_than=timedelta(days=1), clock=clock)
        == 0
    )
    assert (
        await retention.delete_dead(pool, schema=unique, older_than=timedelta(days=7), clock=clock)
        == 0
    )
    clock.advance(6 * 86400)
    assert (
        await retention.delete_dead(pool, schema=unique, older_than=timedelta(days=7), clock=clock)
        == 1
    )
    assert await row_state(pool, row_id) is None
