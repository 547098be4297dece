import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

import nats
import nats.aio.client
import nats.aio.subscription
import pytest

from deis_scheduler.app import reporting, shipping
from deis_scheduler.app.shipping import LogShipper
from deis_shared import wire
from deis_shared.events import logs
from deis_testing import NatsServer


class Link:
    """A client's connection state as events, from its callbacks."""

    def __init__(self) -> None:
        self.up = asyncio.Event()
        self.down = asyncio.Event()

    async def disconnected(self) -> None:
        self.up.clear()
        self.down.set()

    async def reconnected(self) -> None:
        self.down.clear()
        self.up.set()


async def connect(url: str, link: Link | None = None) -> nats.aio.client.Client:
    link = link or Link()
    return await nats.connect(
        url,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.1,
        connect_timeout=1,
        disconnected_cb=link.disconnected,
        reconnected_cb=link.reconnected,
    )


@pytest.fixture
async def nc(nats_server: NatsServer) -> AsyncIterator[nats.aio.client.Client]:
    client = await connect(nats_server.url)
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
def app(unique: str) -> str:
    return f"app-{unique}"


@contextlib.asynccontextmanager
async def running(shipper: LogShipper) -> AsyncIterator[None]:
    task = asyncio.create_task(shipper.run(), name="log shipper")
    try:
        yield
    finally:
        await shipper.close()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def received(sub: nats.aio.subscription.Subscription, count: int) -> list[logs.LogLine]:
    return [wire.decode((await sub.next_msg(timeout=5)).data, logs.LogLine) for _ in range(count)]


async def until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(10):
        while not condition():  # noqa: ASYNC110 -- the shipper's counts have no event
            await asyncio.sleep(0.01)


async def settled(nc: nats.aio.client.Client) -> None:
    """Return once what `nc` sent so far (a SUB) has reached the server.

    Twice: nats-py 2.16 writes flush's PING ahead of commands still pending, so the first
    PONG can come back before a SUB was even sent; by then the SUB has been written, ahead
    of the second PING.
    """
    await nc.flush()
    await nc.flush()


async def event(happened: asyncio.Event) -> None:
    async with asyncio.timeout(10):
        await happened.wait()


async def test_lines_arrive_in_order_as_log_lines(nc: nats.aio.client.Client, app: str) -> None:
    sub = await nc.subscribe(logs.subject(app))
    shipper = LogShipper(nc=nc)
    async with running(shipper):
        for n in range(50):
            shipper.line(app=app, process="web.1", message=f"line {n}")
        shipper.line(app=app, process="worker.2", message="from the worker")
        lines = await received(sub, 51)
    assert [line.message for line in lines] == [f"line {n}" for n in range(50)] + [
        "from the worker"
    ]
    assert {line.app for line in lines} == {app}
    assert lines[-1].process == "worker.2"
    assert lines[0].ts <= lines[-1].ts
    assert shipper.dropped == {}
    await sub.unsubscribe()


async def test_lines_while_the_bus_is_away_are_dropped_then_reported(
    nats_server_factory: Callable[[], NatsServer], app: str
) -> None:
    server = nats_server_factory()
    publisher_link, reader_link = Link(), Link()
    publisher = await connect(server.url, publisher_link)
    reader = await connect(server.url, reader_link)
    try:
        sub = await reader.subscribe(logs.subject(app))
        await settled(reader)
        shipper = LogShipper(nc=publisher)
        async with running(shipper):
            shipper.line(app=app, process="web.1", message="before")
            assert [line.message for line in await received(sub, 1)] == ["before"]

            server.stop()
            await event(publisher_link.down)
            assert not publisher.is_connected
            shipper.line(app=app, process="web.1", message="lost 1")
            shipper.line(app=app, process="web.1", message="lost 2")
            await until(lambda: shipper.dropped.get(app) == 2)

            server.start()
            await event(publisher_link.up)
            await event(reader_link.up)
            await settled(reader)  # its subscription is back on the server
            shipper.line(app=app, process="web.1", message="after")
            lines = await received(sub, 2)
        assert [(line.process, line.message) for line in lines] == [
            ("scheduler", "2 log lines were dropped while the log bus was away"),
            ("web.1", "after"),
        ]
        assert not lines[0].is_app_output
        assert shipper.dropped == {app: 2}
    finally:
        await publisher.close()
        await reader.close()


async def test_a_full_queue_drops_and_reports_once_drained(
    nc: nats.aio.client.Client, app: str, unique: str
) -> None:
    other = f"other-{unique}"
    sub = await nc.subscribe(logs.subject(app))
    shipper = LogShipper(nc=nc, capacity=3)
    for n in range(5):
        shipper.line(app=app, process="web.1", message=f"line {n}")
    shipper.line(app=other, process="web.1", message="no room")
    assert shipper.dropped == {app: 2, other: 1}
    async with running(shipper):
        lines = await received(sub, 4)
    assert [line.message for line in lines] == [
        "line 0",
        "line 1",
        "line 2",
        "2 log lines were dropped because the log bus could not keep up",
    ]
    assert lines[-1].process == reporting.PLATFORM_PROCESS
    await sub.unsubscribe()


async def test_close_publishes_what_is_queued_even_before_run(
    nc: nats.aio.client.Client, app: str
) -> None:
    sub = await nc.subscribe(logs.subject(app))
    shipper = LogShipper(nc=nc)
    shipper.line(app=app, process="web.1", message="one")
    shipper.line(app=app, process="web.1", message="two")
    await shipper.close()
    await shipper.close()
    assert [line.message for line in await received(sub, 2)] == ["one", "two"]
    shipper.line(app=app, process="web.1", message="too late")
    assert shipper.dropped == {app: 1}
    await sub.unsubscribe()


async def test_close_waits_for_the_running_loop_to_drain(
    nc: nats.aio.client.Client, app: str
) -> None:
    sub = await nc.subscribe(logs.subject(app))
    shipper = LogShipper(nc=nc)
    task = asyncio.create_task(shipper.run(), name="log shipper")
    for n in range(1000):
        shipper.line(app=app, process="web.1", message=f"line {n}")
    await shipper.close()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    lines = await received(sub, 1000)
    assert lines[-1].message == "line 999"
    await sub.unsubscribe()


async def test_long_messages_are_cut(nc: nats.aio.client.Client, app: str) -> None:
    sub = await nc.subscribe(logs.subject(app))
    shipper = LogShipper(nc=nc)
    async with running(shipper):
        shipper.line(app=app, process="web.1", message="\u00e9" * 20_000)
        (line,) = await received(sub, 1)
    assert len(line.message.encode()) <= shipping.MAX_MESSAGE
    assert line.message == "\u00e9" * (shipping.MAX_MESSAGE // 2)
    await sub.unsubscribe()


async def test_invalid_names_are_refused_at_once(nc: nats.aio.client.Client) -> None:
    shipper = LogShipper(nc=nc)
    with pytest.raises(ValueError, match="app"):
        shipper.line(app="Bad.App", process="web.1", message="x")
    with pytest.raises(ValueError, match="process"):
        shipper.line(app="good", process="web 1", message="x")
    await shipper.close()
