"""The ordered consumer under log, metrics and KV reading, against real nats-servers."""

import asyncio
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import nats
import nats.aio.client
import pytest

from deis_shared.bus import errors, ordered
from deis_testing import NatsServer


@pytest.fixture
async def nc(nats_server: NatsServer) -> AsyncIterator[nats.aio.client.Client]:
    client = await nats.connect(nats_server.url)
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
async def stream(nc: nats.aio.client.Client, unique: str) -> AsyncIterator[str]:
    js = nc.jetstream()
    await js.add_stream(name=unique, subjects=[f"{unique}.>"])
    try:
        yield unique
    finally:
        await js.delete_stream(unique)


def _consumer(
    nc: nats.aio.client.Client, stream: str, subjects: str | list[str], **options: Any
) -> ordered.OrderedConsumer:
    return ordered.OrderedConsumer(
        js=nc.jetstream(),
        nc=nc,
        stream=stream,
        subjects=subjects,
        context=f"read {stream}",
        **{"start": ordered.Start.at_sequence(1), "heartbeat": 0.2, **options},
    )


async def _publish(nc: nats.aio.client.Client, subject: str, data: list[bytes]) -> list[int]:
    js = nc.jetstream()
    return [(await js.publish(subject, item)).seq for item in data]


async def _read(consumer: ordered.OrderedConsumer, count: int) -> list[ordered.Message]:
    async with asyncio.timeout(20):
        return [await anext(consumer) for _ in range(count)]


async def _consumers(nc: nats.aio.client.Client, stream: str) -> int:
    return (await nc.jetstream().stream_info(stream)).state.consumer_count


async def _until(check: Callable[[], Awaitable[Any]], seconds: float = 10.0) -> Any:
    async with asyncio.timeout(seconds):
        for _ in itertools.count():
            if result := await check():
                return result
            await asyncio.sleep(0.02)
    raise AssertionError("unreachable")


async def test_messages_of_several_subjects_come_in_stream_order(nc, stream):
    for n in range(300):
        await nc.publish(f"{stream}.{('a', 'b', 'c')[n % 3]}", str(n).encode())
    await _until(lambda: _stored(nc, stream, 300))
    consumer = _consumer(nc, stream, [f"{stream}.a", f"{stream}.c"], until_caught_up=True)
    try:
        assert await consumer.open() == 200
        got = [message async for message in consumer]
    finally:
        await consumer.close()
    assert [int(m.data) for m in got] == [n for n in range(300) if n % 3 != 1]
    assert [m.stream_seq for m in got] == [n + 1 for n in range(300) if n % 3 != 1]
    assert [m.pending for m in got] == list(range(199, -1, -1))
    assert got[0].subject == f"{stream}.a" and got[1].subject == f"{stream}.c"
    assert got[0].stored().tzinfo is UTC
    assert consumer.state is ordered.ConsumerState.CLOSED
    assert await _consumers(nc, stream) == 0


async def _stored(nc: nats.aio.client.Client, stream: str, count: int) -> bool:
    return (await nc.jetstream().stream_info(stream)).state.messages >= count


async def test_each_start(nc, stream):
    subject = f"{stream}.x"
    await _publish(nc, f"{stream}.k1", [b"old", b"k1"])
    await asyncio.sleep(0.05)
    since = datetime.now(UTC)
    await asyncio.sleep(0.05)
    await _publish(nc, f"{stream}.k2", [b"k2"])
    await _publish(nc, subject, [b"x3"])

    async def first(start: ordered.Start, subjects: str) -> list[bytes]:
        consumer = _consumer(nc, stream, subjects, start=start, until_caught_up=True)
        try:
            return [message.data async for message in consumer]
        finally:
            await consumer.close()

    assert await first(ordered.Start.at_sequence(3), f"{stream}.>") == [b"k2", b"x3"]
    assert await first(ordered.Start.at_time(since), f"{stream}.>") == [b"k2", b"x3"]
    assert await first(ordered.Start.last_per_subject(), f"{stream}.*") == [b"k1", b"k2", b"x3"]
    assert await first(ordered.Start.new(), f"{stream}.>") == []

    consumer = _consumer(nc, stream, subject, start=ordered.Start.new())
    try:
        assert await consumer.open() == 0
        await _publish(nc, subject, [b"x4"])
        assert [m.data for m in await _read(consumer, 1)] == [b"x4"]
    finally:
        await consumer.close()


async def test_a_server_restart_mid_read_loses_and_repeats_nothing(nats_server_factory, unique):
    server: NatsServer = nats_server_factory()
    nc = await nats.connect(server.url, reconnect_time_wait=0.1, max_reconnect_attempts=-1)
    consumer = _consumer(nc, unique, f"{unique}.>")
    try:
        await nc.jetstream().add_stream(name=unique, subjects=[f"{unique}.>"])
        before = await _publish(nc, f"{unique}.a", [str(n).encode() for n in range(100)])
        got = await _read(consumer, 50)
        await asyncio.to_thread(server.restart)  # the consumer's state was in memory only
        await _until(lambda: _connected(nc))
        after = await _publish(nc, f"{unique}.b", [str(n).encode() for n in range(100, 150)])
        got += await _read(consumer, 100)
        assert [m.stream_seq for m in got] == before + after
        assert [int(m.data) for m in got] == list(range(150))
        assert got[-1].pending == 0
    finally:
        await consumer.close()
        await nc.close()


async def _connected(nc: nats.aio.client.Client) -> bool:
    return nc.is_connected


async def test_a_replaying_consumer_starts_over_after_a_restart(nats_server_factory, unique):
    server: NatsServer = nats_server_factory()
    nc = await nats.connect(server.url, reconnect_time_wait=0.1, max_reconnect_attempts=-1)
    start = ordered.Start.last_per_subject()
    consumer = _consumer(nc, unique, f"{unique}.>", start=start, replay=True, retry_wait=0.05)
    try:
        await nc.jetstream().add_stream(name=unique, subjects=[f"{unique}.>"])
        await _publish(nc, f"{unique}.k", [b"1", b"2"])
        assert [m.data for m in await _read(consumer, 1)] == [b"2"]
        await asyncio.to_thread(server.restart)
        assert [m.data for m in await _read(consumer, 1)] == [b"2"]  # the latest, again
        await _until(lambda: _connected(nc))
        await _publish(nc, f"{unique}.k", [b"3"])
        assert [m.data for m in await _read(consumer, 1)] == [b"3"]
    finally:
        await consumer.close()
        await nc.close()


async def test_a_consumer_lost_on_the_server_is_made_again_where_reading_was(nc, stream):
    subject = f"{stream}.x"
    await _publish(nc, subject, [b"0", b"1", b"2"])
    consumer = _consumer(nc, stream, subject)
    try:
        assert [m.data for m in await _read(consumer, 2)] == [b"0", b"1"]
        js = nc.jetstream()
        (lost,) = await js.consumers_info(stream)
        await js.delete_consumer(stream, lost.name)  # no heartbeat comes any more
        await _publish(nc, subject, [b"3"])
        assert [m.data for m in await _read(consumer, 2)] == [b"2", b"3"]
        (made,) = await js.consumers_info(stream)
        assert made.name != lost.name
    finally:
        await consumer.close()
    assert await _consumers(nc, stream) == 0


async def test_close_ends_a_pending_read_and_leaves_no_task(nc, stream):
    before = asyncio.all_tasks()
    consumer = _consumer(nc, stream, f"{stream}.x")
    await consumer.close()  # before opening: nothing to read
    with pytest.raises(StopAsyncIteration):
        await anext(consumer)

    consumer = _consumer(nc, stream, f"{stream}.x")
    waiting = asyncio.create_task(anext(consumer), name="waiting")
    await _until(lambda: _consumers(nc, stream))
    await consumer.close()
    await consumer.close()
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(waiting, 5)
    assert await _consumers(nc, stream) == 0
    for _ in range(5):
        await asyncio.sleep(0)  # let the cancelled subscription task finish
    left = asyncio.all_tasks() - before - {asyncio.current_task()}
    assert [task for task in left if not task.done()] == []


async def test_a_missing_stream(nc, unique):
    consumer = _consumer(nc, unique, f"{unique}.x")
    with pytest.raises(ordered.NoStream):
        await consumer.open()
    await consumer.close()
    with pytest.raises(ValueError, match="subject"):
        _consumer(nc, unique, [])

    # Retrying, it waits for the stream; close() ends the wait.
    consumer = _consumer(nc, unique, f"{unique}.x", retry_wait=0.05)
    waiting = asyncio.create_task(anext(consumer), name="waiting")
    await asyncio.sleep(0.2)
    js = nc.jetstream()
    await js.add_stream(name=unique, subjects=[f"{unique}.>"])
    try:
        await _publish(nc, f"{unique}.x", [b"here"])
        assert (await asyncio.wait_for(waiting, 10)).data == b"here"
        waiting = asyncio.create_task(anext(consumer), name="waiting")
        await asyncio.sleep(0.05)
        await consumer.close()
        with pytest.raises(StopAsyncIteration):
            await asyncio.wait_for(waiting, 5)
    finally:
        await js.delete_stream(unique)


async def test_a_closed_client_is_unavailable(nats_server: NatsServer, unique):
    client = await nats.connect(nats_server.url)
    await client.close()
    consumer = _consumer(client, unique, f"{unique}.x")
    with pytest.raises(errors.BusUnavailable):
        await consumer.open()
    await consumer.close()


async def test_flow_control_is_answered(nc, stream):
    subject = f"{stream}.x"
    payload = b"x" * 60_000
    await _publish(nc, subject, [payload] * 300)  # ~18 MB: more than one flow control window
    consumer = _consumer(nc, stream, subject, flow_control=True, until_caught_up=True)
    try:
        async with asyncio.timeout(20):
            got = [m.stream_seq async for m in consumer]
    finally:
        await consumer.close()
    assert got == list(range(1, 301))
