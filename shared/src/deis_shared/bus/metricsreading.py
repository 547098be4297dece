"""Reading an app's request metrics back from `METRICS`: every message stored since a time.

The controller answers `GET /v2/apps/<app>/metrics` from what the routers published
(`events.metrics`). `read_requests` creates one ephemeral push consumer filtered on
`deis.metrics.requests.<app>`, delivering from the first message the stream stored at or after
`since`. Its create reply says how many messages it holds; reading ends with the delivery that
has no message pending after it, so a reading ends even while routers go on publishing.

The consumer is ordered by hand, as `logreading.LogReader`'s is and for the same reasons: no
acks, idle heartbeats; a skipped consumer sequence, a client reconnect or silence for three
heartbeats makes the reader recreate it from the stream sequence after the last message read.
Unlike a log reader it asks for no flow control: the controller's NATS user may not answer
`$JS.FC.METRICS.>` (`permissions`), and a day of one app's messages (a few per router and
minute, a few hundred bytes each) fits well within the client's pending limits.

A message that does not validate is skipped with a log line: a chart with a gap beats none.
"""

import asyncio
import collections
import contextlib
import logging
import time
from datetime import datetime

import nats.aio.client
import nats.errors
import nats.js
import nats.js.api
import nats.js.errors
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from deis_shared import wire
from deis_shared.bus import errors
from deis_shared.bus.delivery import Delivery
from deis_shared.events import metrics

logger = logging.getLogger(__name__)

_STATUS = "Status"
_LAST_CONSUMER = "Nats-Last-Consumer"
_STREAM_NOT_FOUND = 10059
"""JetStream's error code for a stream that does not exist."""


async def read_requests(
    *,
    js: nats.js.JetStreamContext,
    nc: nats.aio.client.Client,
    app: str,
    since: datetime,
    max_seconds: float = 30.0,
    heartbeat: float = 1.0,
    stream: str = metrics.STREAM,
) -> list[metrics.RequestMetrics]:
    """The app's request metrics stored at or after `since`, in the order stored.

    Args:
        js: The JetStream context.
        nc: The client behind `js`.
        app: The app name; validated.
        since: The earliest store time read (timezone-aware).
        max_seconds: Seconds the whole reading may take.
        heartbeat: Seconds between the server's idle heartbeats.
        stream: The metrics stream.

    Returns:
        Every valid message; none when the stream holds none of the app's (or does not exist).

    Raises:
        InvalidAppName: `app` is not a valid app name.
        BusUnavailable: The server did not answer, or the reading took longer than `max_seconds`.
        ServerRejected: JetStream refused the consumer.
    """
    subject = metrics.requests_subject(app)
    reading = _Reading(js=js, nc=nc, app=app, subject=subject, heartbeat=heartbeat, stream=stream)
    try:
        async with asyncio.timeout(max_seconds):
            return await reading.run(since)
    except TimeoutError as exc:
        raise errors.BusUnavailable(f"read the request metrics of {app}: timed out") from exc
    finally:
        await reading.close()


class _Reading:
    """One reading: the consumer, recreated where the last one left off when it falters."""

    def __init__(
        self,
        *,
        js: nats.js.JetStreamContext,
        nc: nats.aio.client.Client,
        app: str,
        subject: str,
        heartbeat: float,
        stream: str,
    ) -> None:
        self._js = js
        self._nc = nc
        self._app = app
        self._subject = subject
        self._heartbeat = heartbeat
        self._stream = stream
        self._sub: Subscription | None = None
        self._consumer: str | None = None
        self._inbox: collections.deque[tuple[int, Msg]] = collections.deque()
        self._arrived = asyncio.Event()
        self._generation = 0
        self._reconnects = -1
        self._next_dseq = 1
        self._next_seq = 1
        self._last_activity = 0.0
        self._read: list[metrics.RequestMetrics] = []

    async def run(self, since: datetime) -> list[metrics.RequestMetrics]:
        if await self._subscribe(since=since) == 0:
            return self._read
        while True:
            if self._sub is None or self._reconnects != self._nc.stats["reconnects"]:
                if await self._subscribe(seq=self._next_seq) == 0:
                    return self._read
                continue
            if not self._inbox:
                await self._wait()
                continue
            generation, msg = self._inbox.popleft()
            if generation != self._generation:
                continue  # from a consumer already replaced
            if await self._take(msg):
                return self._read

    async def _wait(self) -> None:
        self._arrived.clear()
        try:
            async with asyncio.timeout(self._heartbeat):
                await self._arrived.wait()
        except TimeoutError:
            if time.monotonic() - self._last_activity > 3 * self._heartbeat:
                logger.info("metrics of %s went silent; reading again", self._app)
                await self._unsubscribe()

    async def _take(self, msg: Msg) -> bool:
        """Handle one delivery; whether it was the last one stored."""
        self._last_activity = time.monotonic()
        headers = msg.headers or {}
        if _STATUS in headers and not msg.data:  # an idle heartbeat
            last = headers.get(_LAST_CONSUMER)
            if last is not None and last.isdigit() and int(last) != self._next_dseq - 1:
                logger.info("metrics of %s lost messages; reading again", self._app)
                await self._unsubscribe()
            return False
        meta = Delivery.of(msg)
        if meta.consumer_seq != self._next_dseq:
            logger.info("metrics of %s skipped a message; reading again", self._app)
            await self._unsubscribe()
            return False
        self._next_dseq += 1
        self._next_seq = meta.stream_seq + 1
        try:
            self._read.append(wire.decode(msg.data, metrics.RequestMetrics))
        except wire.InvalidPayload as exc:
            logger.warning(
                "skipped request metrics of %s (seq %d): %s", self._app, meta.stream_seq, exc
            )
        return meta.num_pending == 0

    async def _subscribe(self, *, since: datetime | None = None, seq: int = 1) -> int:
        """Make the consumer from store time `since`, else stream sequence `seq`; its pending."""
        await self._unsubscribe()
        self._reconnects = self._nc.stats["reconnects"]
        self._next_dseq = 1
        self._last_activity = time.monotonic()
        generation = self._generation

        async def deliver(msg: Msg) -> None:
            self._inbox.append((generation, msg))
            self._arrived.set()

        inbox = self._nc.new_inbox()
        config = nats.js.api.ConsumerConfig(
            deliver_subject=inbox,
            filter_subject=self._subject,
            ack_policy=nats.js.api.AckPolicy.NONE,
            max_deliver=1,
            idle_heartbeat=self._heartbeat,
            inactive_threshold=max(30.0, 10 * self._heartbeat),
            mem_storage=True,
            num_replicas=1,
        )
        if since is not None:
            config.deliver_policy = nats.js.api.DeliverPolicy.BY_START_TIME
            config.opt_start_time = since
        else:
            config.deliver_policy = nats.js.api.DeliverPolicy.BY_START_SEQUENCE
            config.opt_start_seq = max(1, seq)
        try:
            self._sub = await self._nc.subscribe(inbox, cb=deliver)
            info = await self._js.add_consumer(self._stream, config=config)
        except nats.js.errors.NotFoundError as exc:
            await self._unsubscribe()
            if exc.err_code == _STREAM_NOT_FOUND:
                return 0  # no stream yet: no metrics
            raise errors.translate(exc, context=f"read the metrics of {self._app}") from exc
        except (nats.errors.Error, TimeoutError, OSError) as exc:
            await self._unsubscribe()
            raise errors.translate(exc, context=f"read the metrics of {self._app}") from exc
        self._consumer = info.name
        return info.num_pending or 0

    async def close(self) -> None:
        """Remove the consumer; idempotent."""
        await self._unsubscribe()

    async def _unsubscribe(self) -> None:
        sub, consumer = self._sub, self._consumer
        self._sub = self._consumer = None
        self._generation += 1
        self._inbox.clear()
        if sub is not None and not self._nc.is_closed:
            with contextlib.suppress(nats.errors.Error):
                await sub.unsubscribe()
        if consumer is not None and self._nc.is_connected:
            try:
                await self._js.delete_consumer(self._stream, consumer)
            except (nats.errors.Error, TimeoutError) as exc:
                # The server removes it after inactive_threshold anyway.
                logger.debug("deleting metrics consumer %s failed: %r", consumer, exc)
