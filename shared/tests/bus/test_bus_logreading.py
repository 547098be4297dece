"""Tail and follow of an app's log, against a private nats-server holding `LOGS`."""

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import nats
import nats.aio.client
import pytest

from deis_shared import wire
from deis_shared.bus import logreading, topology
from deis_shared.events import logs
from deis_testing import NatsServer

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
async def server(nats_server_factory: Callable[[], NatsServer]) -> NatsServer:
    """A private server: `LOGS` has one fixed name and subject space."""
    return nats_server_factory()


@pytest.fixture
async def nc(server: NatsServer) -> AsyncIterator[nats.aio.client.Client]:
    client = await nats.connect(server.url, reconnect_time_wait=0.2, max_reconnect_attempts=-1)
    await topology.ensure_topology(client.jetstream(), logs_max_per_subject=1000)
    try:
        yield client
    finally:
        await client.close()


def _line(app: str, n: int, message: str | None = None) -> bytes:
    text = f"line {n}" if message is None else message
    return wire.encode(logs.LogLine(app=app, process="web.1", message=text, ts=T0))


def _shown(app: str, n: int) -> str:
    return f"2024-05-01T12:00:00.000000Z {app}[web.1]: line {n}"


async def _stored(nc: nats.aio.client.Client, count: int) -> None:
    await nc.flush()
    js = nc.jetstream()

    async def enough() -> bool:
        return (await js.stream_info("LOGS")).state.messages >= count

    await _until(enough)


async def _publish(nc: nats.aio.client.Client, plan: list[tuple[str, int]]) -> None:
    for app, n in plan:
        await nc.publish(logs.subject(app), _line(app, n))


async def _until(check: Callable[[], Awaitable[Any]], seconds: float = 10.0) -> Any:
    async with asyncio.timeout(seconds):
        for _ in itertools.count():
            if result := await check():
                return result
            await asyncio.sleep(0.02)
    raise AssertionError("unreachable")


async def test_an_unknown_or_empty_app_has_an_empty_tail(nc):
    js = nc.jetstream()
    assert await logreading.tail(js=js, nc=nc, app="nobody", lines=100) == []
    await js.delete_stream("LOGS")
    assert await logreading.tail(js=js, nc=nc, app="nobody", lines=100) == []


async def test_the_tail_is_exactly_the_last_lines_among_other_apps(nc):
    plan = [(f"app{i % 5}", i) for i in range(3000)]  # evenly interleaved
    await _publish(nc, plan)
    await _stored(nc, 3000)
    js = nc.jetstream()
    mine = [n for app, n in plan if app == "app2"]
    for lines in (1, 10, 450, 600, 1000):
        got = await logreading.tail(js=js, nc=nc, app="app2", lines=lines)
        assert got == [_shown("app2", n) for n in mine[-lines:]], lines


async def test_an_unevenly_spread_tail_goes_further_back(nc):
    # The app wrote 300 lines early, then one at the very end after 950 of another app's:
    # the guess from the average spread lands too late and must be doubled back.
    plan = [("early", n) for n in range(300)] + [("busy", n) for n in range(950)]
    plan.append(("early", 300))
    await _publish(nc, plan)
    await _stored(nc, len(plan))
    got = await logreading.tail(js=nc.jetstream(), nc=nc, app="early", lines=200)
    assert got == [_shown("early", n) for n in range(101, 301)]


async def test_follow_misses_no_line_published_while_it_starts(nc):
    js = nc.jetstream()
    await _publish(nc, [("app", n) for n in range(500)])
    await _stored(nc, 500)
    written = itertools.count(500)
    stop = asyncio.Event()

    async def keep_writing() -> None:
        while not stop.is_set():
            for _ in range(20):
                await nc.publish(logs.subject("app"), _line("app", next(written)))
            await asyncio.sleep(0.001)

    writer = asyncio.create_task(keep_writing(), name="writer")
    reader = logreading.LogReader(js=js, nc=nc, app="app", lines=100, follow=True)
    seen: list[int] = []
    try:
        async with asyncio.timeout(20):
            async for line in reader:
                seen.append(int(line.rsplit(" ", 1)[1]))
                if len(seen) == 2000:
                    stop.set()
                    break
    finally:
        stop.set()
        await writer
        await reader.close()
    assert seen[0] >= 400  # the tail: the last 100 lines when the reader began, or later
    assert seen == list(range(seen[0], seen[0] + 2000))


async def test_follow_of_an_empty_app_sees_new_lines(nc):
    js = nc.jetstream()
    reader = logreading.LogReader(js=js, nc=nc, app="fresh", lines=10, follow=True)
    try:
        first = asyncio.create_task(anext(reader), name="first-line")
        # The consumer exists once the reader looked the stream up; lines after that count.
        await _until(lambda: _consumers(nc))
        await _publish(nc, [("fresh", 1), ("other", 2), ("fresh", 3)])
        assert await first == _shown("fresh", 1)
        assert await anext(reader) == _shown("fresh", 3)
    finally:
        await reader.close()
    await reader.close()
    assert reader.state is logreading.ReaderState.CLOSED
    assert await _consumers(nc) == 0


async def _consumers(nc: nats.aio.client.Client) -> int:
    return (await nc.jetstream().stream_info("LOGS")).state.consumer_count


async def test_follow_goes_on_after_the_server_restarts(server, nc):
    js = nc.jetstream()
    await _publish(nc, [("app", n) for n in range(5)])
    await _stored(nc, 5)
    reader = logreading.LogReader(js=js, nc=nc, app="app", lines=5, follow=True, heartbeat=0.2)
    try:
        assert [await anext(reader) for _ in range(5)] == [_shown("app", n) for n in range(5)]
        await asyncio.to_thread(server.restart)
        await _until(lambda: _is_connected(nc))
        for n in range(5, 10):
            await js.publish(logs.subject("app"), _line("app", n))
        assert [await anext(reader) for _ in range(5)] == [_shown("app", n) for n in range(5, 10)]
    finally:
        await reader.close()


async def _is_connected(nc: nats.aio.client.Client) -> bool:
    return nc.is_connected


async def test_hostile_lines_are_read_safely(nc):
    subject = logs.subject("app")
    await nc.publish(subject, b"\x1b[2J\xff\xfe raw bytes\r\n")
    await nc.publish(subject, _line("app", 0, "x" * 100_000 + "\nnext"))
    await nc.publish(subject, _line("app", 0, "\x1b]0;title\x07\x1b[31mred"))
    await _stored(nc, 3)
    got = await logreading.tail(js=nc.jetstream(), nc=nc, app="app", lines=10)
    assert len(got) == 3
    assert got[0].endswith(" app[unknown]: \\x1b[2J\ufffd\ufffd raw bytes")
    assert got[1].endswith(" more bytes]") and len(got[1]) < 17_000
    assert got[2].endswith(" app[web.1]: \\x1b]0;title\\x07\\x1b[31mred")
    assert all("\n" not in line and "\x1b" not in line for line in got)


async def test_close_before_reading_and_bad_arguments(nc):
    reader = logreading.LogReader(js=nc.jetstream(), nc=nc, app="app", lines=1, follow=True)
    await reader.close()
    await reader.close()
    with contextlib.suppress(StopAsyncIteration):
        await anext(reader)
    with pytest.raises(ValueError, match="lines"):
        logreading.LogReader(js=nc.jetstream(), nc=nc, app="app", lines=0, follow=False)
