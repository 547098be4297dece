"""Batch pulls from one durable JetStream pull consumer, written by hand for throughput.

nats-py's `PullSubscription.fetch` takes every message through `next_msg`, which makes a task,
a UUID and a timer per message: that cost more than everything else the archiver does with
a line. A `Puller` sends the same request, `$JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer>`
with `{"batch": n, "expires": ns}`, and lets one callback subscription collect the answers:

    <inbox>.*                 the puller's subscription
    <inbox>.<n>               the reply subject of its n-th request

Messages come in consumer order whichever request they answer, and stay in the puller's
buffer until a `fetch` hands them out, so a cancelled fetch loses none. One request is open
at a time. It ends when its batch is full (the server says nothing more) or with a status on
its own reply subject: 404 (nothing to deliver) or 408 (expired). Any other status but a
heartbeat (409 consumer deleted or leadership changed, 503 no responders when the consumer
is missing) raises `PullError`: the caller makes the consumer anew (`renew_consumer`). A
request that never ends (its answer lost in a reconnect) is given up `_LATE` seconds after it
expired; whatever it still brings is kept for the next fetch, in order.

A fetch that hands out a full batch asks for the next one at once (the consumer is likely
behind), so the server sends it while the caller spools and acknowledges this one. Those
messages are delivered and not acknowledged: a caller that gives up a puller must make the
consumer anew after its ack floor (`renew_consumer`, as the logger's archiver does), or wait
`ack_wait` for them.

Failures are `BusError`s, as everywhere in `deis_shared.bus`: nats-py's are translated.
"""

import asyncio
import json

import nats.aio.client
import nats.errors
import nats.js
import nats.js.api
import nats.js.errors
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from deis_shared.bus import errors

_LATE = 0.5
"""Seconds after a request expired before its missing end is given up."""

_ENDED = frozenset({"404", "408"})
_HEARTBEAT = "100"


class PullError(errors.BusError):
    """The server refused a pull request: the consumer must be made anew."""


class Puller:
    """Fetch batches from one pull consumer through a private inbox; `close()` when done."""

    def __init__(self, *, nc: nats.aio.client.Client, stream: str, consumer: str) -> None:
        self._nc = nc
        self._subject = f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{consumer}"
        self._inbox = nc.new_inbox()
        self._sub: Subscription | None = None
        self._buffer: list[Msg] = []
        self._requests = 0
        self._open: str | None = None
        """The reply subject of the open request, if any."""
        self._expected = 0
        """Messages the open request may still bring."""
        self._deadline = 0.0
        """When the open request is given up (event loop time)."""
        self._error: PullError | None = None
        self._want = 0
        self._wake = asyncio.Event()

    async def start(self) -> None:
        """Subscribe the inbox.

        Raises:
            BusUnavailable: The client is closed.
        """
        try:
            self._sub = await self._nc.subscribe(f"{self._inbox}.*", cb=self._receive)
        except (nats.errors.Error, OSError) as exc:
            raise errors.translate(exc, context=f"subscribe to {self._inbox}.*") from exc

    async def close(self) -> None:
        """Unsubscribe; idempotent, safe before `start()`. Buffered messages are dropped.

        Raises:
            BusUnavailable: The client is closed.
        """
        sub, self._sub = self._sub, None
        self._buffer.clear()
        self._open = None
        if sub is not None:
            try:
                await sub.unsubscribe()
            except nats.errors.Error as exc:
                raise errors.translate(exc, context=f"unsubscribe from {self._inbox}.*") from exc

    async def fetch(self, batch: int, *, expires: float) -> list[Msg]:
        """Up to `batch` messages: those buffered, and what the open request brings.

        Args:
            batch: Messages wanted at most.
            expires: Seconds the server may take to fill a request.

        Returns:
            The messages in consumer order; empty when none came within `expires`.

        Raises:
            PullError: the server refused a request.
            BusUnavailable: the connection is closed.
        """
        if self._sub is None:
            raise RuntimeError("the puller is not started")
        self._raise_refusal()
        if len(self._buffer) < batch:
            if self._open is None:
                await self._request(batch - len(self._buffer), expires)
            await self._wait(batch)
        taken, self._buffer = self._buffer[:batch], self._buffer[batch:]
        if len(taken) == batch and self._open is None and len(self._buffer) < batch:
            await self._request(batch - len(self._buffer), expires)
        return taken

    async def _request(self, batch: int, expires: float) -> None:
        self._requests += 1
        reply = f"{self._inbox}.{self._requests}"
        payload = json.dumps({"batch": batch, "expires": int(expires * 1e9)}).encode()
        self._open, self._expected = reply, batch
        self._deadline = asyncio.get_running_loop().time() + expires + _LATE
        try:
            await self._nc.publish(self._subject, payload, reply=reply)
        except (nats.errors.Error, OSError) as exc:
            raise errors.translate(exc, context=f"publish to {self._subject}") from exc

    async def _wait(self, batch: int) -> None:
        self._want = batch
        try:
            async with asyncio.timeout_at(self._deadline):
                while self._open is not None and len(self._buffer) < batch:
                    self._wake.clear()
                    await self._wake.wait()
                    self._raise_refusal()
        except TimeoutError:
            self._open = None  # its end was lost; what it still brings is kept, in order
        finally:
            self._want = 0

    async def _receive(self, msg: Msg) -> None:
        status = msg.headers.get("Status") if msg.headers else None
        if status is None:
            self._buffer.append(msg)
            # A message of a request given up counts here too: at worst one more request.
            self._expected -= 1
            if self._expected <= 0:
                self._open = None
            if self._want and (self._open is None or len(self._buffer) >= self._want):
                self._wake.set()
        elif status in _ENDED:
            if msg.subject == self._open:  # not the late end of a request given up
                self._open = None
                self._wake.set()
        elif status != _HEARTBEAT:
            description = msg.headers.get("Description", "") if msg.headers else ""
            self._error = PullError(f"pull request refused: {status} {description}".rstrip())
            self._wake.set()

    def _raise_refusal(self) -> None:
        error, self._error = self._error, None
        if error is not None:
            raise error


async def renew_consumer(
    js: nats.js.JetStreamContext,
    *,
    stream: str,
    durable: str,
    filter_subject: str,
    ack_wait: float,
) -> int:
    """Make durable pull consumer `durable` of `stream` anew, starting after its ack floor.

    What the old consumer delivered and was not acknowledged is delivered again by the new
    one; what was acknowledged is not. A missing consumer starts at the stream's beginning.

    Args:
        js: The JetStream context.
        stream: The stream.
        durable: The consumer's durable name.
        filter_subject: The subjects it reads.
        ack_wait: Seconds a delivered message waits for its ack before it comes again.

    Returns:
        The ack floor the new consumer starts after (0: the beginning).

    Raises:
        BusError: The server did not answer, or refused.
    """
    try:
        try:
            info = await js.consumer_info(stream, durable)
            floor = info.ack_floor.stream_seq if info.ack_floor else 0
            await js.delete_consumer(stream, durable)
        except nats.js.errors.NotFoundError:
            floor = 0
        config = nats.js.api.ConsumerConfig(
            durable_name=durable,
            filter_subject=filter_subject,
            ack_policy=nats.js.api.AckPolicy.ALL,
            ack_wait=ack_wait,
            max_deliver=-1,
            max_ack_pending=-1,
            deliver_policy=nats.js.api.DeliverPolicy.BY_START_SEQUENCE,
            opt_start_seq=(floor or 0) + 1,
        )
        await js.add_consumer(stream, config=config)
    except (nats.errors.Error, TimeoutError, OSError) as exc:
        raise errors.translate(exc, context=f"make consumer {durable} of {stream}") from exc
    return floor or 0


async def acknowledge(msg: Msg) -> None:
    """Acknowledge `msg` and wait for the server to confirm (ack policy all: and those before).

    Raises:
        BusError: No confirmation came, or the client is closed.
    """
    try:
        await msg.ack_sync()
    except (nats.errors.Error, TimeoutError) as exc:
        raise errors.translate(exc, context=f"acknowledge {msg.subject}") from exc
