"""Stream operations, core publishes and scoped subscriptions: nats-py's errors translated."""

import asyncio

import pytest

from deis_shared.bus import connection, errors, publishing, streams, subscribing
from deis_testing import NatsServer


async def test_check_stream_and_purge_subject(bus, unique):
    with pytest.raises(errors.ServerRejected):
        await streams.check_stream(bus.js, unique)
    await bus.js.add_stream(name=unique, subjects=[f"{unique}.>"])
    try:
        await streams.check_stream(bus.js, unique)
        for subject in (f"{unique}.a", f"{unique}.a", f"{unique}.b"):
            await bus.js.publish(subject, b"x")
        await streams.purge_subject(bus.js, unique, subject=f"{unique}.a")
        info = await bus.js.stream_info(unique)
        assert info.state.messages == 1
    finally:
        await bus.js.delete_stream(unique)
    with pytest.raises(errors.ServerRejected):
        await streams.purge_subject(bus.js, unique, subject=f"{unique}.a")


async def test_a_subscription_hears_what_comes_while_it_is_held(bus, unique):
    heard: asyncio.Queue[bytes] = asyncio.Queue()

    async def keep(msg: connection.Msg) -> None:
        heard.put_nowait(msg.data)

    async with subscribing.subscription(bus.nc, subject=f"{unique}.*", callback=keep):
        await publishing.send(bus.nc, subject=f"{unique}.x", data=b"one")
        await publishing.flush(bus.nc)
        assert await asyncio.wait_for(heard.get(), 5) == b"one"
    await publishing.send(bus.nc, subject=f"{unique}.x", data=b"two")
    await publishing.flush(bus.nc)
    await asyncio.sleep(0.05)
    assert heard.empty()


async def test_a_closed_client_raises_bus_errors(nats_server: NatsServer, unique):
    bus = await connection.connect(url=nats_server.url, name="closing", connect_timeout=2)
    nc = bus.nc
    await bus.close()

    async def ignore(msg: connection.Msg) -> None:
        pass

    with pytest.raises(errors.BusUnavailable):
        await publishing.send(nc, subject=unique, data=b"x")
    with pytest.raises(errors.BusUnavailable):
        await publishing.flush(nc)
    with pytest.raises(errors.BusUnavailable):
        async with subscribing.subscription(nc, subject=unique, callback=ignore):
            pass
