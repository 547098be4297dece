"""Watch a KV bucket: the latest value of every key, then every change, across restarts.

Readers of KV are level-triggered (docs/architecture.md): they converge on whatever the latest
values are. So the watcher does not try to resume precisely; whenever it doubts its subscription it
starts over and replays the latest value of every key, which is always correct.

It does not use nats-py's `kv.watch()`, whose ordered consumer recreates itself in an
unsupervised background task that may fail once when the server restarts and leave the watch
silently stalled. It reads through `ordered.OrderedConsumer` (last value per subject, no acks,
idle heartbeats), which starts over, replaying, when

- the client has reconnected since the consumer was made (the server may have lost it),
- no message or heartbeat arrived for three heartbeats,
- a consumer sequence number was skipped (a message was lost).

There is no background task: all of this runs inside `__anext__`, so `close()` has nothing
to cancel.

    NEW --first __anext__--> WATCHING --close()--> CLOSED
"""

import dataclasses
import enum

import nats.aio.client
import nats.js

from deis_shared.bus import ordered

_OP_HEADER = "KV-Operation"


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
        self._prefix = f"$KV.{bucket}."
        self._state = WatcherState.NEW
        self._consumer = ordered.OrderedConsumer(
            js=js,
            nc=nc,
            stream=f"KV_{bucket}",
            subjects=f"{self._prefix}{keys}",
            start=ordered.Start.last_per_subject(),
            context=f"watch bucket {bucket}",
            replay=True,
            heartbeat=heartbeat,
            retry_wait=retry_wait,
        )

    @property
    def state(self) -> WatcherState:
        """The lifecycle state."""
        return self._state

    def __aiter__(self) -> "Watcher":
        return self

    async def __anext__(self) -> Entry:
        if self._state is WatcherState.NEW:
            self._state = WatcherState.WATCHING
        if self._state is not WatcherState.WATCHING:
            raise StopAsyncIteration
        message = await self._consumer.__anext__()
        operation = Operation(message.headers.get(_OP_HEADER, Operation.PUT.value))
        return Entry(
            key=message.subject[len(self._prefix) :],
            value=message.data if operation is Operation.PUT else None,
            revision=message.stream_seq,
            operation=operation,
            pending=message.pending,
        )

    async def close(self) -> None:
        """End iteration (a pending `__anext__` stops) and remove the consumer. Idempotent."""
        if self._state is WatcherState.CLOSED:
            return
        self._state = WatcherState.CLOSED
        await self._consumer.close()


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
