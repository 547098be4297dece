import asyncio
from collections.abc import AsyncIterator

import pytest

from deis_shared import appnames, wire
from deis_shared.bus import connection, errors, kv, topology, watching
from deis_shared.kv import procs as procs_kv
from deis_shared.kv.bucket import Bucket
from deis_testing import NatsServer


@pytest.fixture
async def spec(bus: connection.Bus, unique: str) -> AsyncIterator[Bucket[procs_kv.Procs]]:
    """A bucket of the `procs` shape under a name of its own."""
    await topology.ensure_bucket(bus.js, name=unique, history=1)
    try:
        yield Bucket(name=unique, model=procs_kv.Procs, key=procs_kv.key)
    finally:
        await bus.js.delete_key_value(unique)


def _procs(app: str) -> procs_kv.Procs:
    return procs_kv.Procs(app=app, processes=[])


async def _next(watcher: kv.Watcher[procs_kv.Procs]) -> kv.Entry[procs_kv.Procs]:
    return await asyncio.wait_for(watcher.__anext__(), 10.0)


async def test_put_get_delete(bus, spec):
    value = _procs("myapp")
    put = await kv.put(bus.js, spec, "myapp", value)
    assert await kv.get(bus.js, spec, "myapp") == value
    assert await kv.get(bus.js, spec, "other") is None
    deleted = await kv.delete(bus.js, spec, "myapp")
    assert deleted > put
    assert await kv.get(bus.js, spec, "myapp") is None
    assert await kv.read(bus.js, spec, "myapp") is None


async def test_writes_are_what_nats_kv_reads(bus, spec):
    seen: list[connection.Msg] = []
    both = asyncio.Event()

    async def keep(msg: connection.Msg) -> None:
        seen.append(msg)
        if len(seen) == 2:
            both.set()

    sub = await bus.nc.subscribe(f"$KV.{spec.name}.>", cb=keep)
    try:
        value = _procs("myapp")
        await kv.put(bus.js, spec, "myapp", value)
        await kv.delete(bus.js, spec, "myapp", msg_id="gone-1")
        await asyncio.wait_for(both.wait(), 5)
    finally:
        await sub.unsubscribe()
    put, delete = seen
    assert put.subject == f"$KV.{spec.name}.myapp"
    assert put.data == value.model_dump_json(by_alias=True).encode()
    assert put.headers == {"Nats-Msg-Id": str(value.id)}
    assert delete.subject == f"$KV.{spec.name}.myapp"
    assert delete.data == b""
    assert delete.headers == {"KV-Operation": "DEL", "Nats-Msg-Id": "gone-1"}
    assert list(delete.headers) == ["KV-Operation", "Nats-Msg-Id"]


async def test_keys_are_validated_before_anything_is_sent(bus, spec):
    with pytest.raises(appnames.InvalidAppName):
        await kv.put(bus.js, spec, "Not An App", _procs("myapp"))
    with pytest.raises(appnames.InvalidAppName):
        await kv.delete(bus.js, spec, "a.b")
    with pytest.raises(appnames.InvalidAppName):
        await kv.get(bus.js, spec, "*")
    assert await kv.count(bus.js, spec) == 0


async def test_an_invalid_value_and_a_missing_bucket_are_bus_errors(bus, spec, unique):
    headers = kv.write_headers(msg_id="junk")
    await kv.publish(bus.js, bucket=spec.name, key="myapp", data=b"{not json", headers=headers)
    with pytest.raises(errors.InvalidMessage):
        await kv.get(bus.js, spec, "myapp")
    assert await kv.read(bus.js, spec, "myapp") == b"{not json"
    missing = Bucket(name=f"{unique}_none", model=procs_kv.Procs, key=procs_kv.key)
    with pytest.raises(kv.BucketNotFound):
        await kv.get(bus.js, missing, "myapp")
    with pytest.raises(errors.BusError):
        await kv.count(bus.js, missing)


async def test_write_headers_put_the_operation_last():
    assert kv.write_headers(msg_id="1") == {"Nats-Msg-Id": "1"}
    written = kv.write_headers(msg_id="1", delete=True, headers={"X": "y"})
    assert list(written.items()) == [("X", "y"), ("Nats-Msg-Id", "1"), ("KV-Operation", "DEL")]


async def test_watch_yields_typed_entries(bus, spec):
    await kv.put(bus.js, spec, "one", _procs("one"))
    assert await kv.count(bus.js, spec) == 1
    watcher = kv.watch(bus.js, spec, nc=bus.nc)
    try:
        first = await _next(watcher)
        assert (first.key, first.operation, first.pending) == ("one", kv.Operation.PUT, 0)
        decoded = first.value()
        assert decoded is not None
        assert (decoded.app, decoded.processes) == ("one", [])
        await kv.publish(
            bus.js,
            bucket=spec.name,
            key="two",
            data=b"[]",
            headers=kv.write_headers(msg_id="bad"),
        )
        bad = await _next(watcher)
        assert bad.data == b"[]"
        with pytest.raises(wire.InvalidPayload, match="invalid Procs payload"):
            bad.value()
        await kv.delete(bus.js, spec, "one")
        gone = await _next(watcher)
        assert (gone.key, gone.data, gone.operation) == ("one", None, kv.Operation.DELETE)
        assert gone.value() is None
        assert gone.revision > first.revision
    finally:
        await watcher.close()
    assert watcher.state is watching.WatcherState.CLOSED


async def test_a_closed_client_raises_bus_errors(nats_server: NatsServer, spec):
    bus = await connection.connect(url=nats_server.url, name="closing", connect_timeout=2)
    js = bus.js
    await bus.close()
    with pytest.raises(errors.BusUnavailable):
        await kv.put(js, spec, "myapp", _procs("myapp"))
    with pytest.raises(errors.BusUnavailable):
        await kv.get(js, spec, "myapp")
