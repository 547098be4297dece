"""Uploading spooled hours to the object store, exactly once, and purging an app's archive.

    logs/<app>/<yyyy>/<mm>/<dd>/<hh>.log.gz     (the hour a line was written, UTC)

An hour's spool is written as one gzip member. When the object already exists (a late line
of an hour uploaded before, or the hour's lines spooled before and after a restart), the new
member is appended to it: gzip readers read concatenated members as one stream, so the object
stays one valid `.log.gz`.

Every upload is journaled so that a crash never appends a member twice: before the object is
written, the size it had (-1 when missing) is synced to `<hour>.upload` beside the spool; the
spool and journal are removed once the object is written. After a crash, a journal whose size
no longer matches the object's says the write happened (only the removal is left to do);
a matching size says it did not, and the upload is made again.
"""

import asyncio
import logging
import os
import tempfile
from pathlib import Path

from deis_logger.spooling import HourFile, Spool
from deis_shared.objectstore import errors as store_errors, keys
from deis_shared.objectstore.base import ObjectStore

logger = logging.getLogger(__name__)


class Uploader:
    """Moves spooled hours into the object store."""

    def __init__(self, *, store: ObjectStore, spool: Spool) -> None:
        self._store = store
        self._spool = spool

    async def upload(self, hour_file: HourFile) -> None:
        """Append the hour's spool to its archive object, then forget the spool.

        Raises:
            ObjectStoreError: the store failed; the spool and journal stay for a retry.
        """
        key = keys.log_archive_key(hour_file.app, hour_file.hour)
        recorded = await asyncio.to_thread(_read_journal, hour_file.journal)
        if recorded is not None:
            before = recorded
            if await self._size(key) != before:
                await asyncio.to_thread(self._spool.remove, hour_file)  # written before a crash
                return
        else:
            before = await self._size(key)
            await asyncio.to_thread(_write_synced, hour_file.journal, f"{before}\n")
        with tempfile.TemporaryDirectory(prefix="deis-logger-") as scratch:
            packed = Path(scratch) / "hour.log.gz"
            await asyncio.to_thread(self._spool.pack, hour_file, packed)
            if before >= 0:  # append a member to what is there
                earlier = Path(scratch) / "earlier.log.gz"
                await self._store.get_file(key=key, path=earlier)
                await asyncio.to_thread(_append_file, earlier, packed)
                packed = earlier
            await self._store.put_file(key=key, path=packed)
        await asyncio.to_thread(self._spool.remove, hour_file)
        logger.info("archived %s", key)

    async def resume(self) -> None:
        """Finish the uploads a crash interrupted (those with a journal)."""
        for hour_file in await asyncio.to_thread(self._spool.files):
            if await asyncio.to_thread(hour_file.journal.exists):
                await self.upload(hour_file)

    async def purge(self, app: str) -> None:
        """Forget the app's spool and delete its archive."""
        await asyncio.to_thread(self._spool.drop, app)
        removed = await self._store.delete_prefix(keys.log_archive_prefix(app))
        logger.info("purged the log archive of %s (%d objects)", app, removed)

    async def _size(self, key: str) -> int:
        try:
            return await self._store.size(key)
        except store_errors.ObjectNotFound:
            return -1


def _read_journal(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        return None
    try:
        return int(text)
    except ValueError:
        return None  # torn while written, so before the object was: start the upload over


def _write_synced(path: Path, text: str) -> None:
    with path.open("w") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())


def _append_file(target: Path, addition: Path) -> None:
    with target.open("ab") as out, addition.open("rb") as source:
        while chunk := source.read(1 << 20):
            out.write(chunk)
