"""The tail RPC, as the controller asks it, and the stream limits the logger sets."""

from datetime import UTC, datetime, timedelta

from deis_shared.bus import requesting, topology
from deis_shared.events import logs
from deis_shared.rpc import logger as logger_rpc

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def _lines(app: str, count: int, *, process: str = "web.1", start: int = 0) -> list[logs.LogLine]:
    return [
        logs.LogLine(
            app=app, process=process, message=f"line {n}", ts=T0 + timedelta(microseconds=n)
        )
        for n in range(start, start + count)
    ]


async def _tail(bench, app: str, lines: int) -> list[str]:
    reply = await requesting.request(
        bench.nc,
        subject=logger_rpc.TAIL_SUBJECT,
        payload=logger_rpc.TailRequest(app=app, lines=lines),
        reply_type=logger_rpc.TailReply,
        timeout=10,
    )
    return reply.lines


async def test_tail_answers_the_last_lines_and_empty_for_unknown_apps(bench, app_name, until):
    async with bench.logger(archive=False):
        assert await _tail(bench, app_name, 100) == []
        mine = _lines(app_name, 300)
        await bench.publish(mine + _lines("other", 50))
        await until(lambda: _has(bench, app_name, 300))
        assert await _tail(bench, app_name, 100) == [line.format() for line in mine[-100:]]
        assert await _tail(bench, app_name, 10_000) == [line.format() for line in mine]
        assert await _tail(bench, "nobody", 5) == []


async def _has(bench, app: str, count: int) -> bool:
    return bool(await bench.stored(app) >= count)


async def test_tail_of_1000_is_right_after_a_logger_restart(bench, app_name, until):
    lines = _lines(app_name, 1500, process="web.1") + _lines(app_name, 500, process="worker.1")
    async with bench.logger(archive=False):
        await bench.publish(lines[:1000])
    await bench.publish(lines[1000:])  # while the logger is down: the stream keeps them
    await until(lambda: _has(bench, app_name, 2000))
    async with bench.logger(archive=False):
        assert await _tail(bench, app_name, 1000) == [line.format() for line in lines[-1000:]]


async def test_the_logger_alone_sets_the_stream_limits(bench, app_name, until):
    async with bench.logger(archive=False, max_lines_per_app=50, max_age=3600):
        config = (await bench.js.stream_info(logs.STREAM)).config
        assert (config.max_msgs_per_subject, config.max_age) == (50, 3600)
        assert config.storage == "file"
        await topology.ensure_topology(bench.js)  # another service starting
        config = (await bench.js.stream_info(logs.STREAM)).config
        assert (config.max_msgs_per_subject, config.max_age) == (50, 3600)
        lines = _lines(app_name, 80)
        await bench.publish(lines)
        await until(lambda: _tail_is(bench, app_name, [line.format() for line in lines[-50:]]))
        assert await bench.stored(app_name) == 50


async def _tail_is(bench, app: str, expected: list[str]) -> bool:
    return bool(await _tail(bench, app, 100) == expected)


async def test_hostile_lines_are_stored_and_shown_safely(bench, app_name, until):
    subject = logs.subject(app_name)
    async with bench.logger(archive=False):
        await bench.nc.publish(subject, b"\x1b[31m\xff raw \x00 bytes\n")
        huge = logs.LogLine(app=app_name, process="web.1", message="y" * 200_000)
        await bench.publish([huge])
        await bench.publish(
            [logs.LogLine(app=app_name, process="web.1", message="a\nb\r\x1b]2;t\x07\u202e")]
        )
        await until(lambda: _has(bench, app_name, 3))
        raw, cut, controls = await _tail(bench, app_name, 10)
    assert raw.endswith(f" {app_name}[unknown]: \\x1b[31m\ufffd raw \\x00 bytes")
    assert cut.endswith(f"[cut: {200_000 - logs.MAX_MESSAGE_BYTES} more bytes]")
    assert controls.endswith(": a\\nb\\r\\x1b]2;t\\x07\\u202e")
