"""Reading an app's log from `LOGS`: its last N lines, then, when following, every new one.

Tail and follow are one consumer, so no line can fall between them: `LogReader` creates one
push consumer filtered on `deis.logs.<app>`, starting where the last N lines start, and reads
on from there. The logger's tail RPC and the controller's `deis logs -f` both read through it.

Where the last N lines start is found by `logfinding` without reading the whole stream (or
the whole app), and the consumer is created there. Its create reply says how many lines P it
holds at that moment: the first P - N delivered are skipped, and a tail ends after the P-th.
So exactly the last N lines are read, and a follower goes on with every line stored after the
consumer was made.

The consumer is ordered by hand, as the KV `watching` does and for the same reasons (nats-py's
ordered consumer recreates itself in an unsupervised task): it has no acks, flow control and
idle heartbeats; a skipped consumer sequence, a client reconnect or silence for three
heartbeats makes the reader recreate it from the stream sequence after the last line read.

Lines are rendered by `events.logs.render`, which never drops one and never lets one steer a
terminal.

    NEW --first __anext__--> READING --close() or the tail read--> CLOSED
"""

import asyncio
import collections
import contextlib
import enum
import logging
import time

import nats.aio.client
import nats.errors
import nats.js
import nats.js.api
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from deis_shared.bus import errors, logfinding
from deis_shared.bus.delivery import Delivery
from deis_shared.events import logs

logger = logging.getLogger(__name__)

_STATUS = "Status"
_STALLED = "Nats-Consumer-Stalled"
_LAST_CONSUMER = "Nats-Last-Consumer"


class ReaderState(enum.Enum):
    """Where a `LogReader` is in its life."""

    NEW = "new"
    READING = "reading"
    CLOSED = "closed"


class LogReader:
    """Async iterator over an app's rendered log lines: the last `lines`, then new ones."""

    def __init__(
        self,
        *,
        js: nats.js.JetStreamContext,
        nc: nats.aio.client.Client,
        app: str,
        lines: int,
        follow: bool,
        heartbeat: float = 1.0,
        stream: str = logs.STREAM,
    ) -> None:
        """Read `app`'s log; nothing is sent to the server before the first `__anext__`.

        Args:
            js: The JetStream context.
            nc: The client behind `js`.
            app: The app name; validated at the first `__anext__`.
            lines: How many of the last lines to start with, at least 1.
            follow: Whether to go on with new lines after them until `close()`.
            heartbeat: Seconds between the server's idle heartbeats.
            stream: The log stream.
        """
        if lines < 1:
            raise ValueError("lines must be at least 1")
        self._js = js
        self._nc = nc
        self._app = app
        self._subject = ""
        self._lines = lines
        self._follow = follow
        self._heartbeat = heartbeat
        self._stream = stream
        self._state = ReaderState.NEW
        self._sub: Subscription | None = None
        self._inbox: collections.deque[tuple[int, Msg]] = collections.deque()
        self._arrived = asyncio.Event()
        self._generation = 0
        self._consumer: str | None = None
        self._reconnects = -1
        self._next_dseq = 1
        self._next_seq = 1
        self._skip = 0
        self._left = 0
        self._last_activity = 0.0

    @property
    def state(self) -> ReaderState:
        """The lifecycle state."""
        return self._state

    def __aiter__(self) -> "LogReader":
        return self

    async def __anext__(self) -> str:
        if self._state is ReaderState.NEW:
            self._state = ReaderState.READING
            await self._begin()
        while self._state is ReaderState.READING:
            if self._sub is None or self._reconnects != self._nc.stats["reconnects"]:
                await self._subscribe(self._next_seq)
                continue
            if not self._inbox:
                self._arrived.clear()
                try:
                    async with asyncio.timeout(self._heartbeat):
                        await self._arrived.wait()
                except TimeoutError:
                    if time.monotonic() - self._last_activity > 3 * self._heartbeat:
                        logger.info("log of %s went silent; reading again", self._app)
                        await self._unsubscribe()
                continue
            generation, msg = self._inbox.popleft()
            if generation != self._generation:
                continue  # from a consumer already replaced
            line = await self._take(msg)
            if line is not None:
                return line
        raise StopAsyncIteration

    async def close(self) -> None:
        """Stop reading and remove the consumer. Idempotent; safe before the first read."""
        self._state = ReaderState.CLOSED
        await self._unsubscribe()

    async def _begin(self) -> None:
        start = await logfinding.find_start(
            self._js, app=self._app, lines=self._lines, stream=self._stream
        )
        self._subject = logs.subject(self._app)
        if not self._follow and start.count == 0:
            self._state = ReaderState.CLOSED
            return
        seq = start.seq
        pending = await self._subscribe(seq)
        while start.count > self._lines and pending < self._lines and seq > 1:
            # Fewer lines than wanted after the guess: go twice as far back.
            seq = max(1, start.last - 2 * (start.last - seq + 1) + 1)
            pending = await self._subscribe(seq)
        self._next_seq = seq
        self._skip = max(0, pending - self._lines)
        self._left = pending
        if not self._follow and pending == 0:
            await self.close()

    async def _take(self, msg: Msg) -> str | None:
        self._last_activity = time.monotonic()
        headers = msg.headers or {}
        if _STATUS in headers and not msg.data:
            await self._control(msg, headers)
            return None
        meta = Delivery.of(msg)
        if meta.consumer_seq != self._next_dseq:
            logger.info("log of %s skipped a line; reading again", self._app)
            await self._unsubscribe()
            return None
        self._next_dseq += 1
        self._next_seq = meta.stream_seq + 1
        self._left -= 1
        if not self._follow and (self._left <= 0 or meta.num_pending == 0):
            await self.close()  # the tail is read: this line is its last
        elif self._skip > 0:
            self._skip -= 1
            return None  # older than the last `lines`
        return logs.render(msg.data, subject=msg.subject, stored=meta.stored())

    async def _control(self, msg: Msg, headers: dict[str, str]) -> None:
        reply = msg.reply or headers.get(_STALLED)
        if reply:  # flow control: tell the server we have read what it sent
            with contextlib.suppress(nats.errors.Error):
                await self._nc.publish(reply, b"")
        last = headers.get(_LAST_CONSUMER)
        if last is not None and last.isdigit() and int(last) != self._next_dseq - 1:
            logger.info("log of %s lost lines; reading again", self._app)
            await self._unsubscribe()

    async def _subscribe(self, seq: int) -> int:
        """Make the consumer from stream sequence `seq`; the lines it holds."""
        await self._unsubscribe()
        self._reconnects = self._nc.stats["reconnects"]
        self._next_dseq = 1
        self._last_activity = time.monotonic()
        generation = self._generation

        async def deliver(msg: Msg) -> None:
            self._inbox.append((generation, msg))
            self._arrived.set()

        inbox = self._nc.new_inbox()
        try:
            self._sub = await self._nc.subscribe(inbox, cb=deliver)
            info = await self._js.add_consumer(
                self._stream,
                config=nats.js.api.ConsumerConfig(
                    deliver_subject=inbox,
                    filter_subject=self._subject,
                    deliver_policy=nats.js.api.DeliverPolicy.BY_START_SEQUENCE,
                    opt_start_seq=max(1, seq),
                    ack_policy=nats.js.api.AckPolicy.NONE,
                    max_deliver=1,
                    flow_control=True,
                    idle_heartbeat=self._heartbeat,
                    inactive_threshold=max(30.0, 10 * self._heartbeat),
                    mem_storage=True,
                    num_replicas=1,
                ),
            )
        except (nats.errors.Error, TimeoutError, OSError) as exc:
            await self._unsubscribe()
            raise errors.translate(exc, context=f"read the log of {self._app}") from exc
        self._consumer = info.name
        return info.num_pending or 0

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
                logger.debug("deleting log consumer %s failed: %r", consumer, exc)


async def tail(
    *,
    js: nats.js.JetStreamContext,
    nc: nats.aio.client.Client,
    app: str,
    lines: int,
    stream: str = logs.STREAM,
) -> list[str]:
    """The app's last `lines` lines, rendered, oldest first; empty for an app without any.

    Args:
        js: The JetStream context.
        nc: The client behind `js`.
        app: The app name; validated.
        lines: How many, at least 1.
        stream: The log stream.

    Returns:
        At most `lines` lines.

    Raises:
        InvalidAppName: `app` is not a valid app name.
        BusUnavailable: The server did not answer.
    """
    reader = LogReader(js=js, nc=nc, app=app, lines=lines, follow=False, stream=stream)
    kept: collections.deque[str] = collections.deque(maxlen=lines)
    try:
        async for line in reader:
            kept.append(line)
    finally:
        await reader.close()
    return list(kept)
