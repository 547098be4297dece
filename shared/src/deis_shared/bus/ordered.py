"""The one hand-built JetStream ordered consumer: what log, metrics and KV readers read through.

nats-py's ordered consumer (behind `js.subscribe(ordered_consumer=True)` and `kv.watch()`)
recreates itself in an unsupervised background task; when the server restarts, that task may
fail once and leave the subscription silently stalled. `OrderedConsumer` does the same work
inside `__anext__` instead, so there is no task to supervise and `close()` has nothing to
cancel. It

- creates an ephemeral push consumer of `stream` filtered on one or more subjects (no acks,
  one delivery, memory storage, one replica, idle heartbeats, flow control when asked for)
  delivering to a fresh inbox, starting at a `Start`;
- yields each message with its stream sequence and how many messages were still pending;
- starts over when the client has reconnected since the consumer was made (the server may
  have lost it), when a consumer sequence is skipped or a heartbeat says one was lost, and
  when no message or heartbeat came for three heartbeats;
- starting over resumes at the stream sequence after the last message yielded (or where the
  consumer began, when none was), so no message is lost or yielded twice; with `replay` it
  begins again at its `Start` instead (a KV watch replays the latest value of every key,
  which is always correct for level-triggered readers).

`logreading.LogReader`, `metricsreading.read_requests` and `watching.Watcher` read through it.

    NEW --open() or the first __anext__--> OPEN --close(), or caught up--> CLOSED
"""

import asyncio
import collections
import contextlib
import enum
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import nats.aio.client
import nats.errors
import nats.js
import nats.js.api
import nats.js.errors
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from deis_shared.bus import errors
from deis_shared.bus.delivery import Delivery

logger = logging.getLogger(__name__)

_STATUS = "Status"
_STALLED = "Nats-Consumer-Stalled"
_LAST_CONSUMER = "Nats-Last-Consumer"
_STREAM_NOT_FOUND = 10059
"""JetStream's error code for a stream that does not exist."""
_STALL_HEARTBEATS = 3
"""Heartbeats of silence after which the consumer is deemed lost."""


class NoStream(errors.ServerRejected):
    """The stream to consume does not exist."""


@dataclass(frozen=True, slots=True)
class Start:
    """Where a consumer starts; made by one of the class methods."""

    policy: nats.js.api.DeliverPolicy
    seq: int | None = None
    time: datetime | None = None

    @classmethod
    def at_sequence(cls, seq: int) -> "Start":
        """At stream sequence `seq` (at least 1): the first message stored there or after."""
        return cls(nats.js.api.DeliverPolicy.BY_START_SEQUENCE, seq=max(1, seq))

    @classmethod
    def at_time(cls, when: datetime) -> "Start":
        """At the first message stored at or after `when` (timezone-aware)."""
        return cls(nats.js.api.DeliverPolicy.BY_START_TIME, time=when)

    @classmethod
    def last_per_subject(cls) -> "Start":
        """At the last message of every subject, then every new one."""
        return cls(nats.js.api.DeliverPolicy.LAST_PER_SUBJECT)

    @classmethod
    def new(cls) -> "Start":
        """At the first message stored after the consumer was made."""
        return cls(nats.js.api.DeliverPolicy.NEW)


@dataclass(frozen=True, slots=True)
class Message:
    """One message the consumer delivered."""

    subject: str
    data: bytes
    headers: Mapping[str, str]
    stream_seq: int
    """Its sequence in the stream."""
    pending: int
    """Messages still pending after it when it was delivered: 0 means caught up."""
    stored_ns: int
    """When the stream stored it, in nanoseconds since the epoch."""

    def stored(self) -> datetime:
        """When the stream stored it, timezone-aware UTC."""
        return datetime.fromtimestamp(self.stored_ns / 1e9, UTC)


class ConsumerState(enum.Enum):
    """Where an `OrderedConsumer` is in its life."""

    NEW = "new"
    OPEN = "open"
    CLOSED = "closed"


class OrderedConsumer:
    """Async iterator over a stream's messages on some subjects, in order, across restarts."""

    def __init__(
        self,
        *,
        js: nats.js.JetStreamContext,
        nc: nats.aio.client.Client,
        stream: str,
        subjects: str | Sequence[str],
        start: Start,
        context: str,
        replay: bool = False,
        until_caught_up: bool = False,
        heartbeat: float = 1.0,
        flow_control: bool = False,
        retry_wait: float | None = None,
    ) -> None:
        """Consume `stream`; nothing is sent to the server before `open()` or `__anext__`.

        Args:
            js: The JetStream context.
            nc: The client behind `js` (its reconnect count tells when to start over).
            stream: The stream.
            subjects: The subject (wildcards allowed) or subjects to deliver.
            start: Where the first consumer starts.
            context: What the reading is for, in errors and log lines ("watch bucket x").
            replay: Start over at `start` rather than after the last message yielded.
            until_caught_up: End the iteration after a message with none pending after it,
                or when a consumer is made holding none.
            heartbeat: Seconds between the server's idle heartbeats.
            flow_control: Ask for flow control (the NATS user must be allowed to answer it).
            retry_wait: Seconds between attempts to make the consumer; None raises the first
                failure instead.
        """
        self._subjects = (subjects,) if isinstance(subjects, str) else tuple(subjects)
        if not self._subjects:
            raise ValueError("at least one subject")
        self._js = js
        self._nc = nc
        self._stream = stream
        self._start = start
        self._context = context
        self._replay = replay
        self._until_caught_up = until_caught_up
        self._heartbeat = heartbeat
        self._flow_control = flow_control
        self._retry_wait = retry_wait
        self._state = ConsumerState.NEW
        self._sub: Subscription | None = None
        self._consumer: str | None = None
        self._inbox: collections.deque[tuple[int, Msg]] = collections.deque()
        self._arrived = asyncio.Event()
        self._generation = 0
        self._reconnects = -1
        self._next_dseq = 1
        self._next_seq: int | None = None
        self._last_activity = 0.0
        self._held = 0
        self._caught_up = False

    @property
    def state(self) -> ConsumerState:
        """The lifecycle state."""
        return self._state

    def __aiter__(self) -> "OrderedConsumer":
        return self

    async def open(self) -> int:
        """Make the consumer now unless it exists: how many messages it held when made.

        Returns:
            The consumer's pending count in its create reply; 0 once closed.

        Raises:
            NoStream: The stream does not exist (without `retry_wait`).
            BusError: The consumer could not be made (without `retry_wait`).
        """
        if self._state is ConsumerState.NEW:
            self._state = ConsumerState.OPEN
        if self._state is ConsumerState.OPEN and self._sub is None:
            await self._create()
        return self._held if self._state is ConsumerState.OPEN else 0

    async def __anext__(self) -> Message:
        if self._state is ConsumerState.NEW:
            self._state = ConsumerState.OPEN
        while self._state is ConsumerState.OPEN:
            if self._caught_up:
                await self.close()
                break
            if self._sub is None or self._reconnects != self._nc.stats["reconnects"]:
                if self._sub is not None:
                    logger.info("%s: the client reconnected; consuming again", self._context)
                await self._create()
                continue
            if not self._inbox:
                await self._wait()
                continue
            generation, msg = self._inbox.popleft()
            if generation != self._generation:
                continue  # from a consumer already replaced
            message = await self._take(msg)
            if message is not None:
                return message
        raise StopAsyncIteration

    async def close(self) -> None:
        """End iteration (a pending `__anext__` stops) and remove the consumer. Idempotent."""
        self._state = ConsumerState.CLOSED
        self._arrived.set()
        await self._drop()

    async def _wait(self) -> None:
        """Wait a heartbeat for a message; drop a consumer that went silent."""
        self._arrived.clear()
        try:
            async with asyncio.timeout(self._heartbeat):
                await self._arrived.wait()
        except TimeoutError:
            silence = time.monotonic() - self._last_activity
            if self._state is ConsumerState.OPEN and silence > _STALL_HEARTBEATS * self._heartbeat:
                logger.warning("%s: silent for %.1f s; consuming again", self._context, silence)
                await self._drop()

    async def _take(self, msg: Msg) -> Message | None:
        self._last_activity = time.monotonic()
        headers = msg.headers or {}
        if not msg.data and _STATUS in headers:
            await self._control(msg, headers)
            return None
        delivery = Delivery.of(msg)
        if delivery.consumer_seq != self._next_dseq:
            logger.warning("%s: a message was skipped; consuming again", self._context)
            await self._drop()
            return None
        self._next_dseq += 1
        self._next_seq = delivery.stream_seq + 1
        if self._until_caught_up and delivery.num_pending == 0:
            self._caught_up = True
        return Message(
            subject=msg.subject,
            data=msg.data,
            headers=headers,
            stream_seq=delivery.stream_seq,
            pending=delivery.num_pending,
            stored_ns=delivery.stored_ns,
        )

    async def _control(self, msg: Msg, headers: dict[str, str]) -> None:
        """An idle heartbeat or a flow control request."""
        reply = msg.reply or headers.get(_STALLED)
        if reply:  # flow control: tell the server we have read what it sent
            with contextlib.suppress(nats.errors.Error):
                await self._nc.publish(reply, b"")
        last = headers.get(_LAST_CONSUMER)
        if last is not None and last.isdigit() and int(last) != self._next_dseq - 1:
            logger.warning("%s: messages were lost; consuming again", self._context)
            await self._drop()

    async def _create(self) -> None:
        """Make the consumer where reading goes on, retrying with `retry_wait`."""
        if self._replay or self._next_seq is None:
            start = self._start
        else:
            start = Start.at_sequence(self._next_seq)
        while self._state is ConsumerState.OPEN:
            try:
                self._held = await self._subscribe(start)
            except errors.BusError as exc:
                if self._retry_wait is None:
                    raise
                logger.warning("%s: cannot yet: %s", self._context, exc)
                self._arrived.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._retry_wait):
                        await self._arrived.wait()  # set by close()
                continue
            if self._until_caught_up and self._held == 0:
                self._caught_up = True
            return

    async def _subscribe(self, start: Start) -> int:
        """Make the consumer at `start`; the messages it holds."""
        await self._drop()
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
            deliver_policy=start.policy,
            opt_start_seq=start.seq,
            opt_start_time=start.time,
            ack_policy=nats.js.api.AckPolicy.NONE,
            max_deliver=1,
            flow_control=True if self._flow_control else None,
            idle_heartbeat=self._heartbeat,
            inactive_threshold=max(30.0, 10 * self._heartbeat),
            mem_storage=True,
            num_replicas=1,
        )
        if len(self._subjects) == 1:
            config.filter_subject = self._subjects[0]
        else:
            config.filter_subjects = list(self._subjects)
        try:
            self._sub = await self._nc.subscribe(inbox, cb=deliver)
            info = await self._js.add_consumer(self._stream, config=config)
        except nats.js.errors.NotFoundError as exc:
            await self._drop()
            rejected = errors.translate(exc, context=self._context)
            if exc.err_code == _STREAM_NOT_FOUND:
                raise NoStream(str(rejected)) from exc
            raise rejected from exc
        except (nats.errors.Error, TimeoutError, OSError) as exc:
            await self._drop()
            raise errors.translate(exc, context=self._context) from exc
        self._consumer = info.name
        if self._state is not ConsumerState.OPEN:  # closed while it was being made
            await self._drop()
            return 0
        if info.delivered is not None:
            self._next_seq = info.delivered.stream_seq + 1  # where it begins
        return info.num_pending or 0

    async def _drop(self) -> None:
        """Unsubscribe and delete the consumer; its queued messages are ignored from now."""
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
                logger.debug("deleting consumer %s of %s failed: %r", consumer, self._stream, exc)
