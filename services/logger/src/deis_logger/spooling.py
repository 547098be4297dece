"""The archive spool: rendered lines per app and hour on local disk until they are uploaded.

    <root>/<app>/<yyyy>-<mm>-<dd>T<hh>.log      one line per log line: `<stream seq> <line>`
    <root>/<app>/<yyyy>-<mm>-<dd>T<hh>.upload   the upload journal of that hour (`archiving`)

The stream sequence in front of each line is what makes the spool restart-safe. The archiver
acknowledges lines only after they are written and synced here, so a crash between the two
makes the server deliver them again, and `append` skips those already here. Lines arrive in
stream order (one consumer, one batch at a time), so each file holds rising sequences and a
line is in its file exactly when its sequence is not above the file's last one: that per-file
mark, which `load` reads again after a restart, is what `append` checks. A per-app mark would
not do: a batch writes several files (an app's lines of two hours), and after a crash between
their syncs the app's highest sequence on disk can be above a line that never reached disk.
The per-app mark (`high_water`) only covers what is surely spooled, whole batches, so that a
line delivered again after its hour was uploaded is skipped too. Lines are rendered
(`events.logs.render`) before they are spooled, so each is one line of text.

All methods block on disk I/O: the archiver calls them through `asyncio.to_thread`.
"""

import functools
import gzip
import os
import re
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from deis_shared import appnames

_HOUR_FORMAT = "%Y-%m-%dT%H"
_HOUR_NAME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}")
_TAIL_BYTES = 256 * 1024
"""Bytes read from the end of a spool file to find its last line (lines are < 70 KiB)."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One rendered line to spool."""

    app: str
    seq: int
    """Its sequence in the `LOGS` stream."""
    hour: datetime
    """The hour it belongs to (UTC, on the hour)."""
    text: str
    """The rendered line, without a line ending."""


@dataclass(frozen=True, slots=True)
class HourFile:
    """The spooled lines of one app in one hour."""

    app: str
    hour: datetime
    path: Path

    @property
    def journal(self) -> Path:
        """The upload journal beside it."""
        return self.path.with_suffix(".upload")


def hour_of(text: str, *, fallback: datetime) -> datetime:
    """The hour of a rendered line: from the time it starts with, else from `fallback`.

    Args:
        text: A rendered line (`<RFC 3339 time> ...`).
        fallback: A timezone-aware time used when `text` does not start with a time.

    Returns:
        The hour, UTC, on the hour.
    """
    hour = _parse_hour(text[:13])
    if hour is not None:
        return hour
    return fallback.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


@functools.lru_cache(maxsize=256)
def _parse_hour(stamp: str) -> datetime | None:
    # Cached (lines of a batch share their hour) and without strptime, which costs more than
    # rendering the line.
    if _HOUR_NAME.fullmatch(stamp) is None:
        return None
    try:
        year, month, day, hour = int(stamp[:4]), int(stamp[5:7]), int(stamp[8:10]), int(stamp[11:])
        return datetime(year, month, day, hour, tzinfo=UTC)
    except ValueError:
        return None


class Spool:
    """The spool directory and the highest sequence spooled per app."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.high_water: dict[str, int] = {}
        """Per app, a stream sequence up to which every line was spooled (in this process)."""
        self.file_marks: dict[Path, int] = {}
        """Per spooled file, the sequence of its last line."""

    def load(self) -> None:
        """Create the directory, find the last sequence of every file spooled before."""
        self.root.mkdir(parents=True, exist_ok=True)
        self.high_water.clear()
        self.file_marks = {hour_file.path: _last_seq(hour_file.path) for hour_file in self.files()}

    def files(self) -> list[HourFile]:
        """Every spooled hour of every app, oldest first per app."""
        found: list[HourFile] = []
        if not self.root.is_dir():
            return found
        for app_dir in sorted(self.root.iterdir()):
            if not app_dir.is_dir() or not _is_app(app_dir.name):
                continue
            for path in sorted(app_dir.glob("*.log")):
                if _HOUR_NAME.fullmatch(path.stem):
                    hour = datetime.strptime(path.stem, _HOUR_FORMAT).replace(tzinfo=UTC)
                    found.append(HourFile(app=app_dir.name, hour=hour, path=path))
        return found

    def append(self, entries: Iterable[Entry]) -> int:
        """Write `entries` to their hour files and sync them; skip those already spooled.

        Returns:
            How many were written.
        """
        grouped: dict[tuple[str, datetime], list[Entry]] = {}
        highest: dict[str, int] = {}
        for entry in entries:
            key = (entry.app, entry.hour)
            group = grouped.get(key)
            if group is None:
                group = grouped[key] = []
            group.append(entry)
            highest[entry.app] = entry.seq
        written = 0
        for (app, hour), group in grouped.items():
            path = self.root / app / f"{hour:{_HOUR_FORMAT}}.log"
            # Delivered again (a crash or a failed write before the ack): already here.
            mark = max(self.high_water.get(app, 0), self.file_marks.get(path, 0))
            lines = [f"{entry.seq} {entry.text}\n" for entry in group if entry.seq > mark]
            if lines:
                _append_synced(path, "".join(lines))
                self.file_marks[path] = group[-1].seq
                written += len(lines)
        # Only now, every file synced: a failed write leaves the marks for the retry.
        self.high_water.update(highest)
        return written

    def pack(self, hour_file: HourFile, destination: Path) -> None:
        """Write the hour's lines, without their sequences, gzip-compressed to `destination`."""
        with (
            hour_file.path.open("rb") as source,
            gzip.open(destination, "wb", compresslevel=6) as packed,
        ):
            for raw in source:
                _, _, line = raw.partition(b" ")
                packed.write(line)

    def remove(self, hour_file: HourFile) -> None:
        """Forget an uploaded hour: its lines and journal (the high-water mark stays)."""
        hour_file.path.unlink(missing_ok=True)
        hour_file.journal.unlink(missing_ok=True)
        self.file_marks.pop(hour_file.path, None)

    def drop(self, app: str) -> None:
        """Forget everything of `app`: its spooled lines and high-water mark."""
        self.high_water.pop(app, None)
        for path in [path for path in self.file_marks if path.parent.name == app]:
            del self.file_marks[path]
        if _is_app(app):
            shutil.rmtree(self.root / app, ignore_errors=True)


def _is_app(name: str) -> bool:
    try:
        appnames.validate_app_name(name)
    except appnames.InvalidAppName:
        return False
    return True


def _append_synced(path: Path, text: str) -> None:
    created = not path.exists()
    made = created and not path.parent.exists()
    if made:
        path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())
    # New names must survive a crash as well as the lines in them.
    if created:
        _sync_directory(path.parent)
    if made:
        _sync_directory(path.parent.parent)


def _sync_directory(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _last_seq(path: Path) -> int:
    # A torn last line (a crash while writing, so never acknowledged) is cut off, so that the
    # next append starts on a line of its own; the line comes again from the stream.
    with path.open("r+b") as source:
        size = source.seek(0, os.SEEK_END)
        start = max(0, size - _TAIL_BYTES)
        source.seek(start)
        tail = source.read()
        end = tail.rfind(b"\n") + 1
        if start + end < size:
            source.truncate(start + end)
    for raw in reversed(tail[:end].splitlines()):
        seq, _, _ = raw.partition(b" ")
        if seq.isdigit():
            return int(seq)
    return 0
