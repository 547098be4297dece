"""Shipping app output to the log bus, without ever letting the bus slow an app down.

`line` is called synchronously from the output pumps of every process (`processes`): it stamps
the line (its `ts` is when it was written), puts it on a bounded in-memory queue and returns.
`run`, a task of its own, publishes the queue's lines in order as `LogLine`s on
`deis.logs.<app>` with core NATS publishes; the `LOGS` stream stores them.

Logs are best-effort, never back-pressure: an app writing faster than the bus takes lines, or
writing while the bus is away, must not block on a full pipe. So lines are dropped and counted
per app instead of waiting:

* on a full queue (`line` never waits), reported once the queue has drained;
* while NATS is disconnected (the client's reconnect buffer is not used, so lines are not
  delivered minutes late and out of band), reported as soon as publishing works again,
  before the next line.

A report is one platform line per app (process `scheduler`, shown as `deis[scheduler]`), such
as `120 log lines were dropped while the log bus was away`, so `deis logs` shows the gap. Lines
published just before the client notices a broken connection may be lost uncounted.
"""

import asyncio
import contextlib
from typing import Final

from deis_scheduler.app.reporting import PLATFORM_PROCESS
from deis_shared import wire
from deis_shared.bus import connection, errors as bus_errors, publishing
from deis_shared.events import logs

MAX_MESSAGE: Final = 16 * 1024
"""Bytes of one line's message at most; the rest is cut off."""


CLOSE_TIMEOUT: Final = 2.0
"""Seconds `close` spends publishing what is queued, at most, by default."""

_YIELD_EVERY: Final = 256


class LogShipper:
    """A bounded queue of log lines and the loop that publishes them."""

    def __init__(
        self,
        *,
        nc: connection.Client,
        capacity: int = 10_000,
        close_timeout: float = CLOSE_TIMEOUT,
    ) -> None:
        """Ship lines over `nc`.

        Args:
            nc: a connected client, which reconnects by itself when the server goes away.
            capacity: lines held while waiting for the bus; more are dropped.
            close_timeout: seconds `close` spends publishing what is queued, at most.
        """
        self._nc = nc
        self._close_timeout = close_timeout
        self._queue: asyncio.Queue[logs.LogLine] = asyncio.Queue(maxsize=capacity)
        self.dropped: dict[str, int] = {}
        """Lines dropped so far, per app, since this shipper was made (reported or not)."""
        self._away: dict[str, int] = {}
        self._overflowed: dict[str, int] = {}
        self._running = False
        self._closed = False

    def line(self, *, app: str, process: str, message: str) -> None:
        """Queue one line for publishing; never blocks, drops it when the queue is full.

        Args:
            app: the app's name.
            process: who wrote it: `<type>.<index>` (`web.1`), or a platform source.
            message: the line, without its line ending; cut at `MAX_MESSAGE` bytes.

        Raises:
            ValueError: `app` or `process` is not a valid name.
        """
        entry = logs.LogLine(app=app, process=process, message=_cut(message))
        if self._closed:
            _count(self.dropped, app)
            return
        try:
            self._queue.put_nowait(entry)
        except asyncio.QueueFull:
            _count(self.dropped, app)
            _count(self._overflowed, app)

    async def run(self) -> None:
        """Publish queued lines, in order, forever (until cancelled)."""
        self._running = True
        try:
            shipped = 0
            while True:
                entry = await self._queue.get()
                try:
                    await self._ship(entry)
                finally:
                    self._queue.task_done()
                shipped += 1
                if shipped % _YIELD_EVERY == 0:
                    # Queue.get does not yield while lines wait: let the apps' pumps run.
                    await asyncio.sleep(0)
        finally:
            self._running = False

    async def close(self) -> None:
        """Publish what is queued (for `close_timeout` seconds at most), flush the connection.

        Safe to call twice and before `run`; lines given later are dropped. Cancel `run`
        afterwards.
        """
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._close_timeout):
                if self._running:
                    await self._queue.join()
                else:
                    while not self._queue.empty():
                        entry = self._queue.get_nowait()
                        await self._ship(entry)
                        self._queue.task_done()
                if self._nc.is_connected:
                    # Once the PONG is back, the client has written out its pending lines.
                    with contextlib.suppress(bus_errors.BusError):
                        await publishing.flush(self._nc)

    async def _ship(self, entry: logs.LogLine) -> None:
        if self._away and self._nc.is_connected:
            await self._report(self._away, reason="while the log bus was away")
        if not await self._publish(entry):
            _count(self.dropped, entry.app)
            _count(self._away, entry.app)
        elif self._overflowed and self._queue.empty():
            await self._report(self._overflowed, reason="because the log bus could not keep up")

    async def _report(self, unreported: dict[str, int], *, reason: str) -> None:
        """Publish one platform line per app with drops; keep those that fail for later."""
        for app, count in list(unreported.items()):
            what = "1 log line was" if count == 1 else f"{count} log lines were"
            notice = logs.LogLine(
                app=app, process=PLATFORM_PROCESS, message=f"{what} dropped {reason}"
            )
            if not await self._publish(notice):
                return
            # `line` may have counted more for this app meanwhile: report those next time.
            left = unreported[app] - count
            if left:
                unreported[app] = left
            else:
                del unreported[app]

    async def _publish(self, entry: logs.LogLine) -> bool:
        # Not connected: the client would buffer the line until it reconnects; drop it instead.
        if not self._nc.is_connected:
            return False
        try:
            await publishing.send(
                self._nc, subject=logs.subject(entry.app), data=wire.encode(entry)
            )
        except bus_errors.BusError:
            return False
        return True


def _count(counts: dict[str, int], app: str) -> None:
    counts[app] = counts.get(app, 0) + 1


def _cut(message: str) -> str:
    # A character is at most 4 bytes: shorter strings cannot be over the limit.
    if len(message) * 4 <= MAX_MESSAGE:
        return message
    encoded = message.encode(errors="replace")
    if len(encoded) <= MAX_MESSAGE:
        return message
    return encoded[:MAX_MESSAGE].decode(errors="ignore")
