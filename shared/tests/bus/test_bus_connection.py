import asyncio
import logging

import pytest

from deis_shared.bus import connection, errors
from deis_testing import NatsServer, free_port


async def test_connect_gives_a_connected_bus_with_jetstream(bus):
    assert bus.state is connection.BusState.CONNECTED
    assert bus.nc.is_connected
    info = await bus.js.account_info()
    assert info.streams >= 0


async def test_first_connection_failure_is_bus_unavailable():
    url = f"nats://127.0.0.1:{free_port()}"
    with pytest.raises(errors.BusUnavailable, match="cannot connect"):
        await connection.connect(url=url, name="t", connect_timeout=0.5)


async def test_close_before_connect_and_twice_is_fine(nats_server):
    bus = connection.Bus(url=nats_server.url, name="t", connect_timeout=1)
    await bus.close()
    await bus.close()
    await bus.drain()
    assert bus.state is connection.BusState.CLOSED
    with pytest.raises(errors.BusUnavailable):
        _ = bus.nc


async def test_drain_then_close_is_idempotent(nats_server):
    bus = await connection.connect(url=nats_server.url, name="t", connect_timeout=1)
    nc = bus.nc
    await bus.drain()
    await bus.drain()
    await bus.close()
    assert bus.state is connection.BusState.CLOSED
    assert nc.is_closed
    with pytest.raises(errors.BusUnavailable):
        _ = bus.js


async def test_reconnects_after_server_restart_and_logs_it(nats_server_factory, caplog):
    server: NatsServer = nats_server_factory()
    bus = await connection.connect(url=server.url, name="t", connect_timeout=1, reconnect_wait=0.05)
    try:
        caplog.set_level(logging.INFO, logger="deis_shared.bus.connection")
        server.restart()
        for _ in range(200):
            if bus.nc.stats["reconnects"] >= 1 and bus.nc.is_connected:
                break
            await asyncio.sleep(0.02)
        assert bus.nc.stats["reconnects"] >= 1
        await bus.nc.flush(timeout=2)
        messages = [r.getMessage() for r in caplog.records]
        assert any(m.startswith("disconnected") for m in messages)
        assert any(m.startswith("reconnected") for m in messages)
    finally:
        await bus.close()


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("nats://controller:s3cret@127.0.0.1:4222", "nats://controller:***@127.0.0.1:4222"),
        ("nats://127.0.0.1:4222", "nats://127.0.0.1:4222"),
        ("nats://token@127.0.0.1:4222", "nats://token@127.0.0.1:4222"),
    ],
)
def test_logs_never_show_a_password(url, shown):
    assert connection.redacted(url) == shown
