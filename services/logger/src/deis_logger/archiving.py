"""The archiver: every line of `LOGS` spooled, then uploaded per app and hour (`uploading`).

The stream keeps the last lines of each app for a while; the archive keeps them all. One
task reads the stream through a durable pull consumer (`logger-archive`, acks `all`; pulled by
`deis_shared.bus.pulling`, which asks for the next batch while this one is spooled) and, one
batch at a time, spools the batch's rendered lines (`spooling`, synced to disk), then
acknowledges the whole batch with one synchronous ack of its last message. Between batches
the same task uploads the hours that are closed and purges deleted apps, so neither races the
spooling.

Why nothing is lost or doubled across crashes:

* A line is acknowledged only after it is on disk. A crash before the ack delivers it again,
  and the spool skips lines whose stream sequence is not above the app's highest spooled one.
* That skip, and acks that cover everything before them, are only right while lines come in
  stream order. A durable consumer does not guarantee it: lines delivered to a process that
  died come back only after `ack_wait`, behind newer ones, and acking a newer one would
  acknowledge them unspooled. So at every (re)subscription the durable consumer is made anew,
  starting right after its ack floor, which leaves nothing in flight; and a batch that is out
  of order (a redelivery, a sequence not above the last one, or a gap in the consumer's
  delivery sequence, which would be a message lost on the way) is dropped and read again the
  same way.
* There is one archiver per platform: two would acknowledge each other's lines.

An hour is closed once it ended `archive_grace` seconds ago, on the clock while the consumer
is caught up, and on the stream time of the last line read while it is behind (after
downtime an old hour is not closed while lines of it are still queued). At shutdown every
spooled hour is uploaded, open or not; lines of it that come later are appended.
"""

import asyncio
import enum
import functools
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from deis_logger.spooling import Entry, Spool, hour_of
from deis_logger.uploading import Uploader
from deis_shared import appnames, wire
from deis_shared.bus import connection, errors as bus_errors, pulling
from deis_shared.bus.delivery import Delivery
from deis_shared.bus.pulling import Puller
from deis_shared.events import logs
from deis_shared.objectstore import errors as store_errors

logger = logging.getLogger(__name__)

DURABLE = "logger-archive"
"""The archiver's durable consumer on `LOGS`."""

ACK_WAIT = 60.0
"""Seconds the server waits for a batch's ack before delivering it again."""

_HOUR = timedelta(hours=1)

_YIELD_EVERY = 500
"""Lines rendered between two turns of the event loop."""


class ArchiverState(enum.Enum):
    """Where an `Archiver` is in its life."""

    NEW = "new"
    RUNNING = "running"
    STOPPING = "stopping"
    CLOSED = "closed"


class Archiver:
    """Spool every line of `LOGS`, upload closed hours, purge deleted apps."""

    def __init__(
        self,
        *,
        nc: connection.Client,
        js: connection.JetStream,
        spool: Spool,
        uploader: Uploader,
        batch: int = 5000,
        grace: float = 300.0,
        check_interval: float = 30.0,
        poll: float = 1.0,
        clock: Callable[[], datetime] = wire.utc_now,
    ) -> None:
        self._nc = nc
        self._js = js
        self._spool = spool
        self._uploader = uploader
        self._batch = batch
        self._grace = timedelta(seconds=grace)
        self._check_interval = check_interval
        self._poll = poll
        self._clock = clock
        self._state = ArchiverState.NEW
        self._forget: list[str] = []
        self._next_check = 0.0
        self._behind_at: datetime | None = None
        self._last_seq = 0
        self._last_consumer_seq = 0
        self._done = asyncio.Event()

    @property
    def state(self) -> ArchiverState:
        """The lifecycle state."""
        return self._state

    def forget(self, app: str) -> None:
        """Drop the app's spool and archive after the current batch."""
        self._forget.append(app)

    async def run(self) -> None:
        """Archive until `close()`; then upload everything and wait to be cancelled."""
        if self._state is not ArchiverState.NEW:
            raise RuntimeError(f"archiver is {self._state.value}")
        self._state = ArchiverState.RUNNING
        try:
            await asyncio.to_thread(self._spool.load)
            try:
                await self._uploader.resume()
            except store_errors.ObjectStoreError as exc:
                logger.warning("finishing interrupted uploads failed, retrying later: %s", exc)
            sub: Puller | None = None
            while self._state is ArchiverState.RUNNING:
                await self._between_batches(final=False)
                if sub is None:
                    sub = await self._subscribe()
                elif not await self._archive_batch(sub):
                    await _unsubscribe(sub)
                    sub = None
            if sub is not None:
                await _unsubscribe(sub)
            await self._between_batches(final=True)
        finally:
            self._state = ArchiverState.CLOSED
            self._done.set()
        await asyncio.Event().wait()  # an eternal task: parked until the service cancels it

    async def close(self) -> None:
        """Stop reading, upload every spooled hour; idempotent, safe before `run()`."""
        if self._state is ArchiverState.NEW:
            self._state = ArchiverState.CLOSED
            self._done.set()
        elif self._state is ArchiverState.RUNNING:
            self._state = ArchiverState.STOPPING  # seen after the current fetch (`poll`)
        await self._done.wait()

    async def _subscribe(self) -> Puller | None:
        """Make the durable consumer anew after its ack floor; None when NATS is away."""
        try:
            floor = await pulling.renew_consumer(
                self._js,
                stream=logs.STREAM,
                durable=DURABLE,
                filter_subject=logs.SUBJECTS,
                ack_wait=ACK_WAIT,
            )
            sub = Puller(nc=self._nc, stream=logs.STREAM, consumer=DURABLE)
            await sub.start()
        except bus_errors.BusError as exc:
            logger.warning("cannot read log lines to archive yet: %r", exc)
            await asyncio.sleep(self._poll)
            return None
        self._last_seq = floor
        self._last_consumer_seq = 0
        return sub

    async def _archive_batch(self, sub: Puller) -> bool:
        """Spool and acknowledge one batch; False when the subscription must be made anew."""
        try:
            messages = await sub.fetch(self._batch, expires=self._poll)
        except bus_errors.BusError as exc:
            logger.warning("fetching log lines to archive failed: %r", exc)
            await asyncio.sleep(self._poll)
            return False
        if not messages:
            self._behind_at = None
            return True
        entries: list[Entry] = []
        for n, msg in enumerate(messages, start=1):
            if n % _YIELD_EVERY == 0:
                await asyncio.sleep(0)  # a batch takes ~100 ms to render: let tails answer
            delivery = Delivery.of(msg)
            if (
                delivery.stream_seq <= self._last_seq
                or delivery.delivered > 1
                or delivery.consumer_seq != self._last_consumer_seq + 1  # one went missing
            ):
                logger.info("log lines to archive came out of order; reading them again")
                return False
            self._last_seq = delivery.stream_seq
            self._last_consumer_seq = delivery.consumer_seq
            entry = _entry(msg, delivery)
            if entry is not None:
                entries.append(entry)
        if not await self._spool_batch(entries):
            return True  # stopping: the batch is delivered again at the next start
        last = messages[-1]
        try:
            await pulling.acknowledge(last)
        except bus_errors.BusError as exc:
            # Spooled: the next ack covers it; if it comes again, the spool skips it.
            logger.warning("acknowledging archived lines failed: %r", exc)
            return False
        delivery = Delivery.of(last)
        self._behind_at = delivery.stored() if delivery.num_pending else None
        return True

    async def _spool_batch(self, entries: list[Entry]) -> bool:
        """Spool the batch, retrying while the disk refuses; False when stopping first.

        A batch that failed is never skipped: the next batch's ack would acknowledge it.
        """
        wait = self._poll
        while True:
            try:
                await asyncio.to_thread(self._spool.append, entries)
                return True
            except OSError as exc:
                logger.error("spooling log lines failed, retrying in %.1f s: %r", wait, exc)
            if self._state is not ArchiverState.RUNNING:
                return False
            await asyncio.sleep(wait)
            wait = min(wait * 2, 60.0)

    async def _between_batches(self, *, final: bool) -> None:
        while self._forget:
            app = self._forget.pop(0)
            try:
                await self._uploader.purge(app)
            except store_errors.ObjectStoreError as exc:
                # Purged again when the logger next starts and replays the deletions.
                logger.warning("purging the log archive of %s failed: %s", app, exc)
        loop = asyncio.get_running_loop()
        if not final and loop.time() < self._next_check:
            return
        self._next_check = loop.time() + self._check_interval
        now = self._behind_at or self._clock()
        for hour_file in await asyncio.to_thread(self._spool.files):
            if final or hour_file.hour + _HOUR + self._grace <= now:
                try:
                    await self._uploader.upload(hour_file)
                except store_errors.ObjectStoreError as exc:
                    logger.warning("archiving %s failed, retrying later: %s", hour_file.path, exc)


async def _unsubscribe(sub: Puller) -> None:
    try:
        await sub.close()
    except bus_errors.BusError as exc:
        logger.debug("unsubscribing the archiver failed: %r", exc)


def _entry(msg: connection.Msg, delivery: Delivery) -> Entry | None:
    app = _app_of(msg.subject)
    if app is None:
        logger.warning("not archiving a line on %r: no app name", msg.subject)
        return None
    stored = delivery.stored()
    text = logs.render(msg.data, subject=msg.subject, stored=stored)
    return Entry(app=app, seq=delivery.stream_seq, hour=hour_of(text, fallback=stored), text=text)


@functools.lru_cache(maxsize=4096)
def _app_of(subject: str) -> str | None:
    # Cached: a batch has thousands of lines of a few apps.
    app = subject.removeprefix("deis.logs.")
    try:
        return appnames.validate_app_name(app)
    except appnames.InvalidAppName:
        return None
