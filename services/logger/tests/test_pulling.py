"""The hand-written batch pull: full batches, a partial batch ended by 408, an empty one, a
refusal, a cancelled fetch, and a server restart under it."""

import asyncio
from collections.abc import AsyncIterator, Callable

import nats
import nats.aio.client
import nats.errors
import nats.js.api
import pytest
from nats.aio.msg import Msg

from deis_shared.bus import pulling
from deis_shared.bus.delivery import Delivery
from deis_testing import NatsServer, unique_name


async def _consumer(js: nats.js.JetStreamContext, stream: str) -> str:
    await js.add_stream(name=stream, subjects=[f"{stream}.>"])
    config = nats.js.api.ConsumerConfig(
        durable_name="archive",
        ack_policy=nats.js.api.AckPolicy.ALL,
        max_ack_pending=-1,
    )
    await js.add_consumer(stream, config=config)
    return "archive"


async def _publish(js: nats.js.JetStreamContext, stream: str, count: int, start: int = 0) -> None:
    for n in range(start, start + count):
        # Retried while a restarted server recovers its streams; the id makes it once only.
        for attempt in range(50):
            try:
                await js.publish(f"{stream}.app", str(n).encode(), headers={"Nats-Msg-Id": str(n)})
                break
            except nats.errors.Error:
                if attempt == 49:
                    raise
                await asyncio.sleep(0.1)


def _payloads(messages: list[Msg]) -> list[int]:
    return [int(msg.data) for msg in messages]


@pytest.fixture
async def nc(nats_server: NatsServer) -> AsyncIterator[nats.aio.client.Client]:
    client = await nats.connect(nats_server.url)
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
async def puller(nc: nats.aio.client.Client) -> AsyncIterator[tuple[pulling.Puller, str]]:
    stream = unique_name("PULL_")
    js = nc.jetstream()
    consumer = await _consumer(js, stream)
    pull = pulling.Puller(nc=nc, stream=stream, consumer=consumer)
    await pull.start()
    try:
        yield pull, stream
    finally:
        await pull.close()
        await js.delete_stream(stream)


async def test_full_batches_come_in_order_and_a_partial_one_ends_with_the_request(
    puller, nc, monkeypatch
):
    # The puller would give a request up only after ten minutes here: the partial batch must end
    # with the server's 408, or the test runs into its timeout.
    monkeypatch.setattr(pulling, "_LATE", 600.0)
    pull, stream = puller
    await _publish(nc.jetstream(), stream, 25)
    got = [await pull.fetch(10, expires=0.5) for _ in range(2)]
    assert [_payloads(batch) for batch in got] == [list(range(10)), list(range(10, 20))]
    # The second full batch asked for the next one; the server ends it at expiry (408), before
    # the puller would give it up.
    rest = await pull.fetch(10, expires=0.5)
    assert _payloads(rest) == list(range(20, 25))
    consumer_seqs = [Delivery.of(msg).consumer_seq for msg in got[0] + got[1] + rest]
    assert consumer_seqs == list(range(1, 26))


async def test_an_empty_consumer_gives_an_empty_batch(puller):
    pull, _ = puller
    assert await pull.fetch(100, expires=0.2) == []
    assert await pull.fetch(1, expires=0.2) == []


async def test_a_missing_consumer_is_a_refusal(nc):
    stream = unique_name("PULL_")
    js = nc.jetstream()
    await js.add_stream(name=stream, subjects=[f"{stream}.>"])
    pull = pulling.Puller(nc=nc, stream=stream, consumer="nobody")
    await pull.start()
    try:
        with pytest.raises(pulling.PullError):
            await pull.fetch(10, expires=0.5)
    finally:
        await pull.close()
        await pull.close()  # idempotent
        await js.delete_stream(stream)


async def test_close_before_start_is_fine(nc):
    pull = pulling.Puller(nc=nc, stream="NONE", consumer="none")
    await pull.close()
    with pytest.raises(RuntimeError):
        await pull.fetch(1, expires=0.1)


async def test_a_cancelled_fetch_loses_no_message(puller, nc):
    pull, stream = puller
    waiting = asyncio.create_task(pull.fetch(10, expires=0.5))
    await _publish(nc.jetstream(), stream, 3)
    await nc.flush()
    await asyncio.sleep(0.05)  # let them reach the buffer
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    await _publish(nc.jetstream(), stream, 2, start=3)
    got: list[Msg] = []
    async with asyncio.timeout(5.0):
        while len(got) < 5:
            got += await pull.fetch(10, expires=0.2)
    assert _payloads(got) == list(range(5))


async def test_fetching_goes_on_after_a_server_restart(
    nats_server_factory: Callable[[], NatsServer],
):
    server = nats_server_factory()
    client = await nats.connect(server.url, reconnect_time_wait=0.1, max_reconnect_attempts=-1)
    stream = unique_name("PULL_")
    js = client.jetstream()
    pull = pulling.Puller(nc=client, stream=stream, consumer=await _consumer(js, stream))
    await pull.start()
    try:
        await _publish(js, stream, 5)
        assert _payloads(await pull.fetch(5, expires=1.0)) == list(range(5))
        # The full batch asked for the next one: its request dies with the server.
        server.restart()
        got: list[Msg] = []
        async with asyncio.timeout(20.0):
            await _publish(js, stream, 5, start=5)
            while len(got) < 5:
                got += await pull.fetch(5, expires=0.3)
        assert _payloads(got) == list(range(5, 10))
    finally:
        await pull.close()
        await client.close()
