"""The archive: closed hours uploaded, restarts neither losing nor doubling, purges on delete."""

import gzip
from datetime import UTC, datetime, timedelta
from typing import Any

import nats.js.errors

from deis_logger import archiving
from deis_shared import wire
from deis_shared.events import logs
from deis_shared.kv import desired as desired_kv
from deis_shared.objectstore import keys


def _lines(app: str, count: int, *, ts: datetime, start: int = 0) -> list[logs.LogLine]:
    return [
        logs.LogLine(app=app, process="web.1", message=f"line {n}", ts=ts)
        for n in range(start, start + count)
    ]


def _hour_ago(hours: int) -> datetime:
    now = wire.utc_now().replace(minute=0, second=0, microsecond=0)
    return now - timedelta(hours=hours)


async def _caught_up(bench) -> bool:
    try:
        info = await bench.js.consumer_info(logs.STREAM, archiving.DURABLE)
    except nats.js.errors.NotFoundError:
        return False  # not made yet, or being made anew
    return bool(info.num_pending == 0 and info.num_ack_pending == 0)


async def test_a_closed_hour_is_uploaded_while_running(bench, app_name, until):
    old = _hour_ago(2)
    lines = _lines(app_name, 50, ts=old + timedelta(minutes=5))
    key = keys.log_archive_key(app_name, old)
    async with bench.logger():
        await bench.publish(lines)

        async def uploaded() -> Any:
            return await bench.archived(key)

        assert await until(uploaded) == [line.format() for line in lines]
        # A late line of that hour: appended to the same object as another gzip member.
        late = _lines(app_name, 1, ts=old + timedelta(minutes=59), start=50)
        await bench.publish(late)

        async def appended() -> Any:
            return await bench.archived(key) == [line.format() for line in lines + late]

        await until(appended)
    data = await bench.store.get_bytes(key)
    assert data.count(b"\x1f\x8b\x08") == 2  # two members, read as one stream


async def test_restarts_neither_lose_nor_double_lines(bench, app_name, until):
    now = wire.utc_now()
    first = _lines(app_name, 3000, ts=now)
    second = _lines(app_name, 2000, ts=now, start=3000)
    await bench.publish(first)
    async with bench.logger(archive_batch=100):
        await bench.publish(second)  # the logger stops at once, maybe behind: it goes on later
    async with bench.logger(archive_batch=100):
        await until(lambda: _caught_up(bench))
    # The spool was uploaded at each stop; the second upload appended to the first.
    archived = await bench.archived(keys.log_archive_key(app_name, now))
    assert archived == [line.format() for line in first + second]


async def test_a_deleted_app_loses_its_lines_and_archive(bench, app_name, until):
    other = "keeper"
    old = _hour_ago(3)
    async with bench.logger():
        kv = await bench.js.key_value(desired_kv.BUCKET)
        await kv.put(app_name, b"{}")
        await bench.publish(_lines(app_name, 20, ts=old) + _lines(other, 5, ts=old))
        await bench.publish(_lines(app_name, 5, ts=wire.utc_now()))  # spooled, not uploaded
        mine = keys.log_archive_key(app_name, old)

        async def archived() -> Any:
            return await bench.archived(mine) is not None and await _caught_up(bench)

        await until(archived)
        await kv.delete(app_name)

        async def purged() -> Any:
            prefix = keys.log_archive_prefix(app_name)
            objects = [key async for key in bench.store.list(prefix)]
            spooled = (bench.settings.data_dir / "spool" / app_name).exists()
            return not objects and not spooled and await bench.stored(app_name) == 0

        await until(purged)
        assert await bench.stored(other) == 5
        assert await bench.archived(keys.log_archive_key(other, old)) is not None


async def test_lines_on_a_subject_without_app_name_are_not_archived(bench, app_name, until):
    old = _hour_ago(2)
    async with bench.logger():
        await bench.nc.publish("deis.logs.no.app", b"hostile")
        await bench.publish(_lines(app_name, 3, ts=old))
        key = keys.log_archive_key(app_name, old)

        async def uploaded() -> Any:
            return await bench.archived(key)

        assert len(await until(uploaded)) == 3
    assert not (bench.settings.data_dir / "spool" / "no").exists()
    gzip.decompress(await bench.store.get_bytes(key))


async def test_lines_written_while_the_logger_is_down_are_archived(bench, app_name, until):
    old = _hour_ago(5)
    lines = _lines(app_name, 10, ts=old)
    await bench.publish(lines)  # nobody archives yet: the stream keeps them
    async with bench.logger():
        key = keys.log_archive_key(
            app_name, datetime(old.year, old.month, old.day, old.hour, tzinfo=UTC)
        )

        async def uploaded() -> Any:
            return await bench.archived(key)

        assert await until(uploaded) == [line.format() for line in lines]
