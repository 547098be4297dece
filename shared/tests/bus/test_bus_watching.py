import asyncio

import pytest

from deis_shared.bus import connection, topology, watching
from deis_testing import NatsServer


async def _next(watcher: watching.Watcher, within: float = 10.0) -> watching.Entry:
    return await asyncio.wait_for(watcher.__anext__(), within)


async def _until(watcher: watching.Watcher, key: str, value: bytes | None) -> watching.Entry:
    while True:
        entry = await _next(watcher)
        if entry.key == key and entry.value == value:
            return entry


@pytest.fixture
async def bucket(bus, unique):
    await topology.ensure_bucket(bus.js, name=unique, history=1)
    try:
        yield await bus.js.key_value(unique)
    finally:
        await bus.js.delete_key_value(unique)


async def test_yields_latest_values_then_changes_and_deletes(bus, bucket, unique):
    await bucket.put("a", b"1")
    await bucket.put("a", b"2")
    await bucket.put("b", b"x")
    watcher = watching.watch(js=bus.js, nc=bus.nc, bucket=unique)
    try:
        first = [await _next(watcher), await _next(watcher)]
        assert sorted((e.key, e.value) for e in first) == [("a", b"2"), ("b", b"x")]
        assert first[-1].pending == 0
        await bucket.put("c", b"new")
        entry = await _next(watcher)
        assert (entry.key, entry.value, entry.operation) == ("c", b"new", watching.Operation.PUT)
        await bucket.delete("a")
        entry = await _next(watcher)
        assert (entry.key, entry.value, entry.operation) == ("a", None, watching.Operation.DELETE)
        await bucket.purge("b")
        entry = await _next(watcher)
        assert (entry.key, entry.value, entry.operation) == ("b", None, watching.Operation.PURGE)
        assert entry.revision > first[-1].revision
    finally:
        await watcher.close()


async def test_close_ends_a_pending_iteration_and_is_idempotent(bus, bucket, unique):
    watcher = watching.watch(js=bus.js, nc=bus.nc, bucket=unique)
    await watcher.close()  # before start
    assert watcher.state is watching.WatcherState.CLOSED
    with pytest.raises(StopAsyncIteration):
        await watcher.__anext__()

    watcher = watching.watch(js=bus.js, nc=bus.nc, bucket=unique)
    seen: list[watching.Entry] = []

    async def consume() -> None:
        async for entry in watcher:
            seen.append(entry)

    task = asyncio.create_task(consume())
    await bucket.put("k", b"v")
    for _ in range(200):
        if seen:
            break
        await asyncio.sleep(0.01)
    await watcher.close()
    await watcher.close()
    await asyncio.wait_for(task, 5)  # iteration ended by itself, no cancellation
    assert [e.value for e in seen] == [b"v"]
    consumers = await bus.js.consumers_info(f"KV_{unique}")
    assert consumers == []


async def test_keeps_watching_across_a_server_restart(nats_server_factory, unique):
    server: NatsServer = nats_server_factory()
    bus = await connection.connect(url=server.url, name="t", connect_timeout=1, reconnect_wait=0.05)
    watcher = watching.Watcher(js=bus.js, nc=bus.nc, bucket=unique, heartbeat=0.2, retry_wait=0.05)
    try:
        await topology.ensure_bucket(bus.js, name=unique)
        kv = await bus.js.key_value(unique)
        await kv.put("app", b"before")
        assert (await _next(watcher)).value == b"before"

        server.restart()
        # The replay after the restart yields the latest value again (level-triggered).
        replayed = await _next(watcher)
        assert (replayed.key, replayed.value) == ("app", b"before")

        kv = await bus.js.key_value(unique)
        await kv.put("app", b"after")
        entry = await _until(watcher, "app", b"after")
        assert entry.operation is watching.Operation.PUT
    finally:
        await watcher.close()
        await bus.close()
