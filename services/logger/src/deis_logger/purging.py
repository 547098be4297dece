"""App deletion: when an app is destroyed, its log lines and archive go with it.

The controller deletes the app's key from KV `desired` when the app is destroyed. The logger
watches that bucket and, on a delete or purge of a key, purges subject `deis.logs.<app>` from
`LOGS` and has the archiver drop the app's spool and `logs/<app>/` archive (the archiver does
it between two batches, so it never races a batch being spooled).

A watch that starts over replays the latest entry of every key, delete markers included, so a
purge that failed, or that a logger restart interrupted, is made again; purging twice is
harmless. Lines an app's last processes print after its deletion may start a new log: they are
purged at the next start of the logger, or when the name is destroyed again.
"""

import logging
from collections.abc import AsyncIterator, Callable
from typing import Protocol

from deis_shared import appnames
from deis_shared.bus import connection, errors as bus_errors, kv, streams
from deis_shared.events import logs
from deis_shared.kv import desired as desired_kv

logger = logging.getLogger(__name__)


class Forgetting(Protocol):
    """Who drops an app's archive (the archiver)."""

    def forget(self, app: str) -> None:
        """Drop the app's spool and archive soon."""
        ...


async def purge(
    js: connection.JetStream, *, app: str, archive: Forgetting | None, stream: str = logs.STREAM
) -> None:
    """Purge the app's lines from the stream and have `archive` drop its archive.

    Args:
        js: The JetStream context.
        app: The deleted app; invalid names are ignored.
        archive: The archiver, or None when nothing is archived.
        stream: The log stream.
    """
    try:
        subject = logs.subject(app)
    except appnames.InvalidAppName:
        return
    try:
        await streams.purge_subject(js, stream, subject=subject)
    except bus_errors.BusError as exc:
        # Made again at the next start of the watch (see the module docstring).
        logger.warning("purging the log lines of %s failed: %r", app, exc)
    else:
        logger.info("purged the log lines of %s", app)
    if archive is not None:
        archive.forget(app)


async def watch_deletions(
    *,
    js: connection.JetStream,
    watch: Callable[[], kv.Watcher[desired_kv.DesiredState]],
    archive: Forgetting | None,
) -> None:
    """Purge every app whose `desired` key is deleted, until cancelled.

    Args:
        js: The JetStream context.
        watch: Makes a watcher of KV `desired`.
        archive: The archiver, or None.
    """
    watcher = watch()
    try:
        async for app in _deleted(watcher):
            await purge(js, app=app, archive=archive)
    finally:
        await watcher.close()


async def _deleted(watcher: kv.Watcher[desired_kv.DesiredState]) -> AsyncIterator[str]:
    async for entry in watcher:
        if entry.operation in (kv.Operation.DELETE, kv.Operation.PURGE):
            yield entry.key
