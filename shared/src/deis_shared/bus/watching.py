"""Watch a KV bucket: the latest value of every key, then every change, across restarts.

Readers of KV are level-triggered (DESIGN.md): they converge on whatever the latest values
are. So the watcher does not try to resume precisely; whenever it doubts its subscription it
starts over and replays the latest value of every key, which is always correct.

It does not use nats-py's `kv.watch()`: the ordered consumer behind it recreates itself in an
unsupervised background task, and when the server restarts that task may fail once and leave
the watch silently stalled. Instead the watcher creates its own ephemeral push consumer
(last value per subject, no acks, idle heartbeats) and starts over when

- the client has reconnected since the consumer was made (the server may have lost it),
- no message or heartbeat arrived for `stall_after` seconds,
- a consumer sequence number was skipped (a message was lost).

There is no background task: all of this runs inside `__anext__`, so `close()` has nothing
to cancel.

    NEW --first __anext__--> WATCHING --close()--> CLOSED
"""

import asyncio
import dataclasses
import enum
import logging
import time

import nats.aio.client
import nats.errors
import nats.js
import nats.js.api
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from deis_shared.bus import errors

logger = logging.getLogger(__name__)

_OP_HEADER = "KV-Operation"
_STATUS_HEADER = "Status"


class Operation(enum.Enum):
    """What happened to a key."""

    PUT = "PUT"
    DELETE = "DEL"
    PURGE = "PURGE"


@dataclasses.dataclass(frozen=True, slots=True)
class Entry:
    """One key's value at one revision; `value` is None for deletes and purges."""

    key: str
    value: bytes | None
    revision: int
    operation: Operation
    pending: int
    """Messages the server still had queued for this watch: 0 means caught up."""


class WatcherState(enum.Enum):
    """Where a `Watcher` is in its life."""

    NEW = "new"
    WATCHING = "watching"
    CLOSED = "closed"


_CLOSED = object()


class Watcher:
    """Async iterator over the entries of one KV bucket (optionally filtered by key pattern)."""

    def __init__(
        self,
        *,
        js: nats.js.JetStreamContext,
        nc: nats.aio.client.Client,
        bucket: str,
        keys: str = ">",
        heartbeat: float = 1.0,
        retry_wait: float = 0.5,
    ) -> None:
        self._js = js
        self._nc = nc
        self._bucket = bucket
        self._stream = f"KV_{bucket}"
        self._prefix = f"$KV.{bucket}."
        self._keys = keys
        self._heartbeat = heartbeat
        self._stall_after = 3 * heartbeat
        self._retry_wait = retry_wait
        self._state = WatcherState.NEW
        self._queue: asyncio.Queue[tuple[int, Msg] | object] = asyncio.Queue()
        self._generation = 0
        self._sub: Subscription | None = None
        self._consumer: str | None = None
        self._reconnects = -1
        self._next_dseq = 1
        self._last_activity = 0.0

    @property
    def state(self) -> WatcherState:
        """The lifecycle state."""
        return self._state

    def __aiter__(self) -> "Watcher":
        return self

    async def __anext__(self) -> Entry:
        if self._state is WatcherState.NEW:
            self._state = WatcherState.WATCHING
        while self._state is WatcherState.WATCHING:
            if self._sub is None or self._reconnects != self._nc.stats["reconnects"]:
                await self._restart()
                continue
            try:
                async with asyncio.timeout(self._heartbeat):
                    item = await self._queue.get()
            except TimeoutError:
                if time.monotonic() - self._last_activity > self._stall_after:
                    logger.warning("watch of %s stalled; watching again", self._bucket)
                    await self._stop_sub()
                continue
            if item is _CLOSED:
                break
            assert isinstance(item, tuple)
            generation, msg = item
            if generation != self._generation:
                continue  # from a subscription already replaced
            entry = self._entry(msg)
            if entry is not None:
                return entry
        raise StopAsyncIteration

    async def close(self) -> None:
        """End iteration (a pending `__anext__` stops) and remove the consumer. Idempotent."""
        if self._state is WatcherState.CLOSED:
            return
        self._state = WatcherState.CLOSED
        self._queue.put_nowait(_CLOSED)
        await self._stop_sub()

    def _entry(self, msg: Msg) -> Entry | None:
        self._last_activity = time.monotonic()
        headers = msg.headers or {}
        if _STATUS_HEADER in headers:
            return None  # idle heartbeat (or flow control, which is not enabled)
        meta = msg.metadata
        if meta.sequence.consumer != self._next_dseq:
            logger.warning("watch of %s skipped a message; watching again", self._bucket)
            self._sub_lost()
            return None
        self._next_dseq += 1
        operation = Operation(headers.get(_OP_HEADER, Operation.PUT.value))
        return Entry(
            key=msg.subject[len(self._prefix) :],
            value=msg.data if operation is Operation.PUT else None,
            revision=meta.sequence.stream,
            operation=operation,
            pending=meta.num_pending,
        )

    def _sub_lost(self) -> None:
        # Forget the subscription; the loop restarts it. Its messages are dropped by generation.
        self._generation += 1
        self._sub = None

    async def _restart(self) -> None:
        await self._stop_sub()
        while self._state is WatcherState.WATCHING:
            try:
                await self._start_sub()
                return
            except errors.BusError as exc:
                logger.warning("cannot watch %s yet: %s", self._bucket, exc)
                await self._stop_sub()
                await asyncio.sleep(self._retry_wait)

    async def _start_sub(self) -> None:
        self._generation += 1
        generation = self._generation
        self._reconnects = self._nc.stats["reconnects"]
        self._next_dseq = 1
        self._last_activity = time.monotonic()

        async def deliver(msg: Msg) -> None:
            self._queue.put_nowait((generation, msg))

        inbox = self._nc.new_inbox()
        try:
            self._sub = await self._nc.subscribe(inbox, cb=deliver)
            info = await self._js.add_consumer(
                self._stream,
                config=nats.js.api.ConsumerConfig(
                    deliver_subject=inbox,
                    filter_subject=f"{self._prefix}{self._keys}",
                    deliver_policy=nats.js.api.DeliverPolicy.LAST_PER_SUBJECT,
                    ack_policy=nats.js.api.AckPolicy.NONE,
                    idle_heartbeat=self._heartbeat,
                    inactive_threshold=max(30.0, 10 * self._heartbeat),
                    mem_storage=True,
                    num_replicas=1,
                ),
            )
        except (nats.errors.Error, TimeoutError, OSError) as exc:
            raise errors.translate(exc, context=f"watch bucket {self._bucket}") from exc
        self._consumer = info.name

    async def _stop_sub(self) -> None:
        sub, consumer = self._sub, self._consumer
        self._sub_lost()
        self._consumer = None
        if sub is not None and not self._nc.is_closed:
            try:
                await sub.unsubscribe()
            except nats.errors.Error as exc:
                logger.debug("unsubscribe from %s failed: %r", self._bucket, exc)
        if consumer is not None and self._nc.is_connected:
            try:
                await self._js.delete_consumer(self._stream, consumer)
            except (nats.errors.Error, TimeoutError) as exc:
                # The server removes it after inactive_threshold anyway.
                logger.debug("deleting watch consumer %s failed: %r", consumer, exc)


def watch(
    *, js: nats.js.JetStreamContext, nc: nats.aio.client.Client, bucket: str, keys: str = ">"
) -> Watcher:
    """Start watching `bucket`: `async for entry in watcher`, then `await watcher.close()`.

    Args:
        js: The JetStream context.
        nc: The client behind `js` (its reconnect count tells when to start over).
        bucket: The KV bucket name.
        keys: A key pattern (`>` for all keys).

    Returns:
        A watcher; nothing is sent to the server before the first `__anext__`.
    """
    return Watcher(js=js, nc=nc, bucket=bucket, keys=keys)
