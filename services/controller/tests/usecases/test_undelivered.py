"""A change of an app that the outbox cannot deliver is told to the app's log (`undelivered`)."""

import asyncio
import uuid

import httpx
from fastapi import FastAPI

from deis_controller.usecases import undelivered
from deis_shared import wire
from deis_shared.events import logs as log_events
from deis_shared.kv import desired as desired_kv, routes as routes_kv
from deis_shared.kv.desired import DesiredState
from deis_shared.outbox import dead, outbox


async def test_a_desired_state_too_large_for_the_bus_is_told_and_the_next_change_is_served(
    controller: FastAPI, client: httpx.AsyncClient, auth, owner: str, app_id: str, nc
) -> None:
    logs = await nc.subscribe(log_events.subject(app_id))
    pool = controller.state.context.pool
    # The API refuses such a value before commit; a row written directly stands for one that
    # slipped through (or a server whose max_payload shrank since).
    async with pool.acquire() as conn, conn.transaction():
        poison = await outbox.enqueue_kv_put(
            conn, bucket=desired_kv.BUCKET, key=app_id, value=b"x" * (2 * nc.max_payload)
        )
    line = None
    while line is None or "could not be delivered" not in line.message:
        msg = await logs.next_msg(timeout=10)
        line = wire.decode(msg.data, log_events.LogLine)
    assert line.process == "controller"
    assert "to the scheduler" in line.message
    assert "2.0 MiB, more than the 1.0 MiB" in line.message
    assert "the app keeps running as before" in line.message
    assert "deis config:unset" in line.message
    assert await pool.fetchval("SELECT dead_at IS NOT NULL FROM outbox WHERE id = $1", poison)

    changed = await client.post(
        f"/v2/apps/{app_id}/config/", json={"values": {"GREETING": "hi"}}, headers=auth(owner)
    )
    assert changed.status_code == 201, changed.text
    kv = await nc.jetstream().key_value(desired_kv.BUCKET)
    watcher = await kv.watch(app_id)
    try:
        async with asyncio.timeout(10):
            async for entry in watcher:
                if entry is None or entry.value is None:
                    continue
                state = wire.decode(entry.value, DesiredState)
                if state.config.get("GREETING") == "hi":
                    break
    finally:
        await watcher.stop()
    await logs.unsubscribe()


def _row(**overrides: object) -> dead.DeadRow:
    values: dict[str, object] = {
        "id": uuid.uuid4(),
        "kind": "kv_put",
        "subject": None,
        "bucket": routes_kv.BUCKET,
        "key": "myapp",
        "attempts": 8,
        "error": "BadRequestError: wrong last sequence",
        "too_large": False,
        "size": 300,
        "max_payload": 1024 * 1024,
    }
    values.update(overrides)
    return dead.DeadRow(**values)  # type: ignore[arg-type]


def test_each_failure_is_told_in_words_a_user_can_act_on() -> None:
    refused = undelivered.message(_row())
    assert "could not be delivered to the router after 8 attempts" in refused
    assert "wrong last sequence" in refused
    assert "the app's traffic is routed as before" in refused
    large = undelivered.message(_row(too_large=True, size=3 * 1024))
    assert "the app's routes (its domains, certificates and whitelist) is 3.0 KiB" in large
    assert "remove domains, certificates or whitelist entries" in large
    removal = undelivered.message(_row(kind="kv_delete", bucket=desired_kv.BUCKET))
    assert removal.startswith("the removal of this app could not be delivered to the scheduler")


async def test_rows_of_other_buckets_and_events_are_not_told(controller: FastAPI) -> None:
    pool = controller.state.context.pool
    async with pool.acquire() as conn, conn.transaction():
        await undelivered.report(conn, _row(bucket="endpoints"))
        await undelivered.report(conn, _row(kind="event", bucket=None, key=None, subject="a.b"))
        assert await conn.fetchval("SELECT count(*) FROM outbox WHERE kind = 'event'") == 0
        await undelivered.report(conn, _row())
        assert await conn.fetchval("SELECT count(*) FROM outbox WHERE kind = 'event'") == 1
