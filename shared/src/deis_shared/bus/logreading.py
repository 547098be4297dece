"""Reading an app's log from `LOGS`: its last N lines, then, when following, every new one.

Tail and follow are one consumer, so no line can fall between them: `LogReader` creates one
push consumer filtered on `deis.logs.<app>`, starting where the last N lines start, and reads
on from there. The logger's tail RPC and the controller's `deis logs -f` both read through it.

Where the last N lines start is found by `logfinding` without reading the whole stream (or
the whole app), and the consumer is created there. Its create reply says how many lines P it
holds at that moment: the first P - N delivered are skipped, and a tail ends after the P-th.
So exactly the last N lines are read, and a follower goes on with every line stored after the
consumer was made.

The consumer is `ordered.OrderedConsumer`, as the KV `watching` one is: it has no acks, flow
control and idle heartbeats; a skipped consumer sequence, a client reconnect or silence for
three heartbeats makes it recreate itself from the stream sequence after the last line read.

Lines are rendered by `events.logs.render`, which never drops one and never lets one steer a
terminal.

    NEW --first __anext__--> READING --close() or the tail read--> CLOSED
"""

import collections
import enum

import nats.aio.client
import nats.js

from deis_shared.bus import logfinding, ordered
from deis_shared.events import logs


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
        self._lines = lines
        self._follow = follow
        self._heartbeat = heartbeat
        self._stream = stream
        self._state = ReaderState.NEW
        self._consumer: ordered.OrderedConsumer | None = None
        self._skip = 0
        self._left = 0

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
        while self._state is ReaderState.READING and self._consumer is not None:
            try:
                message = await self._consumer.__anext__()
            except StopAsyncIteration:
                break
            line = await self._take(message)
            if line is not None:
                return line
        self._state = ReaderState.CLOSED
        raise StopAsyncIteration

    async def close(self) -> None:
        """Stop reading and remove the consumer. Idempotent; safe before the first read."""
        self._state = ReaderState.CLOSED
        if self._consumer is not None:
            await self._consumer.close()

    async def _begin(self) -> None:
        start = await logfinding.find_start(
            self._js, app=self._app, lines=self._lines, stream=self._stream
        )
        if not self._follow and start.count == 0:
            self._state = ReaderState.CLOSED
            return
        seq = start.seq
        pending = await self._open(seq)
        while start.count > self._lines and pending < self._lines and seq > 1:
            # Fewer lines than wanted after the guess: go twice as far back.
            seq = max(1, start.last - 2 * (start.last - seq + 1) + 1)
            pending = await self._open(seq)
        self._skip = max(0, pending - self._lines)
        self._left = pending
        if not self._follow and pending == 0:
            await self.close()

    async def _open(self, seq: int) -> int:
        """Make the consumer from stream sequence `seq`; the lines it holds."""
        if self._consumer is not None:
            await self._consumer.close()
        if self._state is not ReaderState.READING:
            return 0  # closed meanwhile
        self._consumer = ordered.OrderedConsumer(
            js=self._js,
            nc=self._nc,
            stream=self._stream,
            subjects=logs.subject(self._app),
            start=ordered.Start.at_sequence(seq),
            context=f"read the log of {self._app}",
            until_caught_up=not self._follow,
            heartbeat=self._heartbeat,
            flow_control=True,
        )
        return await self._consumer.open()

    async def _take(self, message: ordered.Message) -> str | None:
        self._left -= 1
        if not self._follow and (self._left <= 0 or message.pending == 0):
            await self.close()  # the tail is read: this line is its last
        elif self._skip > 0:
            self._skip -= 1
            return None  # older than the last `lines`
        return logs.render(message.data, subject=message.subject, stored=message.stored())


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
