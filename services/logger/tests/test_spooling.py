"""The spool's restart safety: lines delivered again are skipped, torn lines are cut off, and
an upload a crash interrupted is finished without appending twice."""

import gzip
from datetime import UTC, datetime

import pytest

from deis_logger.spooling import Entry, Spool, hour_of
from deis_logger.uploading import Uploader
from deis_shared.objectstore import keys
from deis_shared.objectstore.filesystem import FilesystemStore

HOUR = datetime(2024, 5, 1, 12, tzinfo=UTC)


def _entries(app: str, seqs: range) -> list[Entry]:
    return [Entry(app=app, seq=seq, hour=HOUR, text=f"line {seq}") for seq in seqs]


def test_lines_delivered_again_are_skipped_across_restarts(tmp_path):
    spool = Spool(tmp_path)
    spool.load()
    assert spool.append(_entries("app", range(1, 4))) == 3
    again = Spool(tmp_path)
    again.load()
    assert list(again.file_marks.values()) == [3]
    assert again.append(_entries("app", range(2, 6))) == 2
    (hour_file,) = again.files()
    assert hour_file.path.read_text().splitlines() == [f"{n} line {n}" for n in range(1, 6)]


def test_a_torn_last_line_is_cut_off(tmp_path):
    spool = Spool(tmp_path)
    spool.load()
    spool.append(_entries("app", range(1, 3)))
    (hour_file,) = spool.files()
    with hour_file.path.open("a") as out:
        out.write("3 line 3 torn by a cra")
    again = Spool(tmp_path)
    again.load()
    assert list(again.file_marks.values()) == [2]
    again.append(_entries("app", range(3, 4)))
    assert hour_file.path.read_text().splitlines() == ["1 line 1", "2 line 2", "3 line 3"]


def test_hours_come_from_the_rendered_time():
    fallback = datetime(2020, 1, 1, 7, 30, tzinfo=UTC)
    assert hour_of("2024-05-01T12:59:59.000000Z a[web.1]: x", fallback=fallback) == HOUR
    assert hour_of("garbage", fallback=fallback) == datetime(2020, 1, 1, 7, tzinfo=UTC)
    assert hour_of("2024-13-01T12:00 x", fallback=fallback) == datetime(2020, 1, 1, 7, tzinfo=UTC)


async def test_an_upload_interrupted_after_the_write_is_not_appended_twice(tmp_path):
    store = FilesystemStore(tmp_path / "objects")
    await store.prepare()
    spool = Spool(tmp_path / "spool")
    spool.load()
    spool.append(_entries("app", range(1, 3)))
    (hour_file,) = spool.files()
    key = keys.log_archive_key("app", HOUR)
    # The crash: the journal said "missing" (-1), then the object was written, then the end.
    hour_file.journal.write_text("-1\n")
    await store.put_bytes(key=key, data=gzip.compress(b"line 1\nline 2\n"))
    await Uploader(store=store, spool=spool).resume()
    assert gzip.decompress(await store.get_bytes(key)) == b"line 1\nline 2\n"
    assert spool.files() == []


async def test_an_upload_interrupted_before_the_write_is_made(tmp_path):
    store = FilesystemStore(tmp_path / "objects")
    await store.prepare()
    key = keys.log_archive_key("app", HOUR)
    await store.put_bytes(key=key, data=gzip.compress(b"line 0\n"))
    spool = Spool(tmp_path / "spool")
    spool.load()
    spool.append(_entries("app", range(1, 3)))
    (hour_file,) = spool.files()
    hour_file.journal.write_text(f"{await store.size(key)}\n")  # recorded; not written yet
    await Uploader(store=store, spool=spool).resume()
    assert gzip.decompress(await store.get_bytes(key)) == b"line 0\nline 1\nline 2\n"
    assert spool.files() == []


def _at(hour: datetime, app: str, seqs: list[int]) -> list[Entry]:
    return [Entry(app=app, seq=seq, hour=hour, text=f"line {seq}") for seq in seqs]


def test_a_batch_torn_between_two_files_is_completed_after_a_crash(tmp_path):
    # A batch of one app over two hours (10 and 12 at 13:00, a late 11 at 12:00); the crash
    # came after the 13:00 file was synced, before the 12:00 one was.
    later = HOUR.replace(hour=13)
    batch = [*_at(later, "app", [10]), *_at(HOUR, "app", [11]), *_at(later, "app", [12])]
    spool = Spool(tmp_path)
    spool.load()
    spool.append(batch[0::2])
    again = Spool(tmp_path)
    again.load()
    assert again.append(batch) == 1  # only 11 was missing
    lines = {file.hour.hour: file.path.read_text().splitlines() for file in again.files()}
    assert lines == {12: ["11 line 11"], 13: ["10 line 10", "12 line 12"]}


def test_a_failed_write_is_retried_without_losing_or_doubling(tmp_path):
    spool = Spool(tmp_path)
    spool.load()
    spool.append(_at(HOUR, "app", [1]))
    blocked = tmp_path / "app" / "2024-05-01T13.log"
    blocked.mkdir()  # the second file of the batch cannot be opened
    batch = [*_at(HOUR, "app", [2]), *_at(HOUR.replace(hour=13), "app", [3])]
    with pytest.raises(IsADirectoryError):
        spool.append(batch)
    blocked.rmdir()
    assert spool.append(batch) == 1
    lines = {file.hour.hour: file.path.read_text().splitlines() for file in spool.files()}
    assert lines == {12: ["1 line 1", "2 line 2"], 13: ["3 line 3"]}
