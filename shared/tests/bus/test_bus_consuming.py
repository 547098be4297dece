import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from deis_shared import errors as deis_errors
from deis_shared.bus import connection, consuming


@pytest.fixture
async def stream(bus, unique):
    await bus.js.add_stream(name=unique, subjects=[f"{unique}.>"])
    try:
        yield unique
    finally:
        await bus.js.delete_stream(unique)


def _consumer(bus: connection.Bus, stream: str, handler: Any, **kw: Any) -> consuming.Consumer:
    return consuming.Consumer(
        js=bus.js,
        stream=stream,
        durable="worker",
        filter_subject=f"{stream}.>",
        handler=handler,
        backoff=lambda _: 0,
        poll=0.1,
        **kw,
    )


async def _wait(predicate: Callable[[], object], within: float = 10.0) -> None:
    async with asyncio.timeout(within):
        while not predicate():  # noqa: ASYNC110 -- polls state the consumer task changes
            await asyncio.sleep(0.01)


async def test_transient_failures_are_retried_then_acked_once(bus, stream):
    calls: list[int] = []

    async def handler(msg):
        calls.append(msg.metadata.num_delivered)
        if len(calls) < 3:
            raise deis_errors.TransientError("not yet", retry_after=0)

    consumer = _consumer(bus, stream, handler)
    task = asyncio.create_task(consumer.run())
    await bus.js.publish(f"{stream}.a", b"1")
    await _wait(lambda: len(calls) == 3)
    await consumer.stop()
    await task
    assert calls == [1, 2, 3]
    info = await bus.js.consumer_info(stream, "worker")
    assert info.num_ack_pending == 0
    assert info.num_pending == 0
    assert info.ack_floor.stream_seq == 1


async def test_poison_message_is_terminated_and_next_flows(bus, stream):
    poisoned: list[tuple[bytes, BaseException]] = []
    handled: list[bytes] = []

    async def handler(msg):
        if msg.data == b"bad":
            raise deis_errors.TransientError("always")
        handled.append(msg.data)

    async def on_poison(msg, exc):
        poisoned.append((msg.data, exc))

    consumer = _consumer(bus, stream, handler, on_poison=on_poison, max_deliver=3)
    task = asyncio.create_task(consumer.run())
    await bus.js.publish(f"{stream}.a", b"bad")
    await bus.js.publish(f"{stream}.a", b"good")
    await _wait(lambda: handled and poisoned)
    await consumer.close()
    await task
    assert handled == [b"good"]
    assert [(d, type(e)) for d, e in poisoned] == [(b"bad", deis_errors.TransientError)]
    info = await bus.js.consumer_info(stream, "worker")
    assert info.num_ack_pending == 0


async def test_permanent_error_is_poison_at_once(bus, stream):
    calls = 0
    poisoned = asyncio.Event()

    async def handler(msg):
        nonlocal calls
        calls += 1
        raise deis_errors.PermanentError("bad data")

    async def on_poison(msg, exc):
        poisoned.set()

    consumer = _consumer(bus, stream, handler, on_poison=on_poison)
    task = asyncio.create_task(consumer.run())
    await bus.js.publish(f"{stream}.a", b"x")
    await asyncio.wait_for(poisoned.wait(), 10)
    await consumer.stop()
    await task
    assert calls == 1


async def test_handler_that_never_answers_is_redelivered_after_its_time_limit(bus, stream):
    deliveries: list[int] = []

    async def handler(msg):
        deliveries.append(msg.metadata.num_delivered)
        if len(deliveries) == 1:
            await asyncio.Event().wait()  # hangs: cancelled at handler_timeout

    consumer = _consumer(bus, stream, handler, ack_wait=0.5, handler_timeout=0.5)
    task = asyncio.create_task(consumer.run())
    await bus.js.publish(f"{stream}.a", b"x")
    await _wait(lambda: len(deliveries) == 2)
    await consumer.stop()
    await task
    assert deliveries == [1, 2]


async def test_durable_consumer_resumes_where_it_left_off(bus, stream):
    seen: list[bytes] = []

    async def handler(msg):
        seen.append(msg.data)

    first = _consumer(bus, stream, handler)
    task = asyncio.create_task(first.run())
    await bus.js.publish(f"{stream}.a", b"1")
    await _wait(lambda: seen == [b"1"])
    await first.stop()
    await task
    await bus.js.publish(f"{stream}.a", b"2")

    second = _consumer(bus, stream, handler)
    task = asyncio.create_task(second.run())
    await _wait(lambda: len(seen) == 2)
    await second.stop()
    await second.stop()
    await task
    assert seen == [b"1", b"2"]


async def test_stop_before_run_and_twice(bus, stream):
    consumer = _consumer(bus, stream, handler=None)
    await consumer.stop()
    await consumer.close()
    assert consumer.state is consuming.ConsumerState.CLOSED


async def test_stop_cuts_an_idle_fetch_short(bus, stream):
    handled: list[bytes] = []

    async def handler(msg):
        handled.append(msg.data)

    consumer = consuming.Consumer(
        js=bus.js,
        stream=stream,
        durable="idle",
        filter_subject=f"{stream}.>",
        handler=handler,
        poll=30.0,
    )
    task = asyncio.create_task(consumer.run())
    await bus.js.publish(f"{stream}.a", b"1")
    await _wait(lambda: handled == [b"1"])
    await asyncio.sleep(0.05)  # now waiting in a 30 s fetch
    async with asyncio.timeout(2):
        await consumer.stop()
        await task
    assert consumer.state is consuming.ConsumerState.CLOSED


async def test_a_long_handler_says_in_progress_and_is_not_redelivered_meanwhile(bus, stream):
    deliveries: list[int] = []

    async def handler(msg):
        deliveries.append(msg.metadata.num_delivered)
        await asyncio.sleep(2.5)  # five times ack_wait

    consumer = _consumer(bus, stream, handler, ack_wait=0.5)
    task = asyncio.create_task(consumer.run())
    await bus.js.publish(f"{stream}.a", b"x")
    await _wait(lambda: deliveries == [1])
    info_during = await bus.js.consumer_info(stream, "worker")
    await asyncio.sleep(2.7)
    await consumer.stop()
    await task
    assert deliveries == [1]
    assert info_during.num_redelivered == 0
    info = await bus.js.consumer_info(stream, "worker")
    assert (info.num_ack_pending, info.num_redelivered) == (0, 0)


async def test_a_message_whose_consumer_died_comes_back_within_ack_wait(bus, stream):
    """A service killed mid-handler (here: its task cancelled, nothing answered) gets the
    message back at its next start within `ack_wait`, not after the handler's time limit."""
    picked = asyncio.Event()

    async def dies(msg):
        picked.set()
        await asyncio.Event().wait()

    first = _consumer(bus, stream, dies, ack_wait=1.0, handler_timeout=60)
    task = asyncio.create_task(first.run())
    await bus.js.publish(f"{stream}.a", b"x")
    await asyncio.wait_for(picked.wait(), 10)
    task.cancel()  # the process is gone: no ack, no nak, no more "in progress"
    with pytest.raises(asyncio.CancelledError):
        await task
    died = asyncio.get_running_loop().time()
    seen: list[float] = []

    async def handles(msg):
        seen.append(asyncio.get_running_loop().time() - died)

    second = _consumer(bus, stream, handles, ack_wait=1.0)
    task = asyncio.create_task(second.run())
    await _wait(lambda: seen)
    await second.stop()
    await task
    assert seen[0] < 2.0  # ack_wait (1 s) and a poll, not the 60 s time limit
