"""A durable pull consumer that turns handler outcomes into acks, delayed naks and poison.

    handler returns              -> ack
    handler raises TransientError -> nak with a delay (`retry_after`, else `backoff(n)`)
    handler raises PermanentError -> term, log, `on_poison`
    delivery n == max_deliver fails transiently -> term, log, `on_poison`
    handler runs past handler_timeout -> cancelled, no answer: the server redelivers

The server's `ack_wait` is short (3 s by default) and a running handler says "in progress"
every third of it, so a message whose consumer died mid-way (a killed service) comes back
within `ack_wait` of the death, not after the handler's whole time limit; a long handler is not
redelivered behind its own back meanwhile.

The server-side `max_deliver` is unlimited on purpose: the limit is counted here so that a
message that exhausts it is always terminated and reported, even when its last attempt timed
out (a server-side limit would silently stop delivering it instead).

Other exceptions from the handler are bugs; they are logged and treated as transient, so the
message is retried up to the limit and then reported as poison rather than lost.

    NEW --run()--> RUNNING --stop()--> STOPPING --> CLOSED
"""

import asyncio
import enum
import logging
from collections.abc import Awaitable, Callable

import nats.errors
import nats.js
import nats.js.api
from nats.aio.msg import Msg

from deis_shared import errors as deis_errors
from deis_shared.bus import errors

logger = logging.getLogger(__name__)

DEFAULT_ACK_WAIT = 3.0
"""Seconds the server waits for an answer (or an "in progress") before redelivering."""

Handler = Callable[[Msg], Awaitable[None]]
PoisonHandler = Callable[[Msg, BaseException], Awaitable[None]]
Sleep = Callable[[float], Awaitable[None]]


def exponential_backoff(attempt: int) -> float:
    """Seconds before redelivery after failed delivery `attempt`: 0.5, 1, 2, ... up to 30."""
    return float(min(0.5 * 2 ** (attempt - 1), 30.0))


class ConsumerState(enum.Enum):
    """Where a `Consumer` is in its life."""

    NEW = "new"
    RUNNING = "running"
    STOPPING = "stopping"
    CLOSED = "closed"


class PoisonMessage(deis_errors.PermanentError):
    """A message that failed `max_deliver` times; handed to `on_poison`."""


class Consumer:
    """Run `handler` for every message of a durable pull consumer until stopped."""

    def __init__(
        self,
        *,
        js: nats.js.JetStreamContext,
        stream: str,
        durable: str,
        filter_subject: str,
        handler: Handler,
        on_poison: PoisonHandler | None = None,
        max_deliver: int = 5,
        ack_wait: float = DEFAULT_ACK_WAIT,
        handler_timeout: float = 30.0,
        batch: int = 10,
        poll: float = 1.0,
        backoff: Callable[[int], float] = exponential_backoff,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._js = js
        self._stream = stream
        self._durable = durable
        self._filter = filter_subject
        self._handler = handler
        self._on_poison = on_poison
        self._max_deliver = max_deliver
        self._ack_wait = ack_wait
        self._handler_timeout = handler_timeout
        self._batch = batch
        self._poll = poll
        self._backoff = backoff
        self._sleep = sleep
        self._state = ConsumerState.NEW
        self._sub: nats.js.JetStreamContext.PullSubscription | None = None
        self._stopped = asyncio.Event()
        self._fetching: asyncio.Future[list[Msg]] | None = None

    @property
    def state(self) -> ConsumerState:
        """The lifecycle state."""
        return self._state

    async def ensure(self) -> None:
        """Create (or update) the durable consumer; idempotent.

        Raises:
            BusUnavailable: The server did not answer.
            ServerRejected: The server refused the consumer configuration.
        """
        config = nats.js.api.ConsumerConfig(
            durable_name=self._durable,
            filter_subject=self._filter,
            ack_policy=nats.js.api.AckPolicy.EXPLICIT,
            ack_wait=self._ack_wait,
            max_deliver=-1,
            deliver_policy=nats.js.api.DeliverPolicy.ALL,
        )
        try:
            await self._js.add_consumer(self._stream, config=config)
        except (nats.errors.Error, TimeoutError, OSError) as exc:
            context = f"create consumer {self._stream}/{self._durable}"
            raise errors.translate(exc, context=context) from exc

    async def run(self) -> None:
        """Fetch and handle messages until `stop()`; returns after the current batch.

        Raises:
            BusUnavailable: The consumer could not be created.
            ServerRejected: The server refused the consumer configuration.
        """
        if self._state is not ConsumerState.NEW:
            raise errors.BusError(f"consumer {self._durable} is {self._state.value}, not new")
        self._state = ConsumerState.RUNNING
        try:
            await self.ensure()
            self._sub = await self._js.pull_subscribe_bind(
                durable=self._durable, stream=self._stream
            )
            attempt = 0
            while self._state is ConsumerState.RUNNING:
                self._fetching = asyncio.ensure_future(
                    self._sub.fetch(self._batch, timeout=self._poll)
                )
                try:
                    messages = await self._fetching
                    attempt = 0
                except asyncio.CancelledError:
                    if self._stop_requested() and not _cancelling():
                        break  # stop() cut an idle wait short
                    raise
                except nats.errors.TimeoutError:
                    continue
                except (nats.errors.Error, OSError) as exc:
                    attempt += 1
                    logger.warning("fetch from %s failed: %r", self._durable, exc)
                    await self._sleep(self._backoff(attempt))
                    continue
                for msg in messages:
                    await self._handle(msg)
        finally:
            await self._unsubscribe()
            self._state = ConsumerState.CLOSED
            self._stopped.set()

    def _stop_requested(self) -> bool:
        return self._state is ConsumerState.STOPPING

    async def stop(self) -> None:
        """Ask `run()` to return after the current fetch; waits for it. Idempotent."""
        if self._state is ConsumerState.NEW:
            self._state = ConsumerState.CLOSED
            self._stopped.set()
        elif self._state is ConsumerState.RUNNING:
            self._state = ConsumerState.STOPPING
            # An idle fetch would hold the stop for up to `poll` seconds; a message it
            # was about to return is redelivered after `ack_wait`.
            if self._fetching is not None and not self._fetching.done():
                self._fetching.cancel()
        await self._stopped.wait()

    async def close(self) -> None:
        """Same as `stop()`: the durable consumer stays on the server for the next run."""
        await self.stop()

    async def _unsubscribe(self) -> None:
        sub, self._sub = self._sub, None
        if sub is None:
            return
        try:
            await sub.unsubscribe()
        except nats.errors.Error as exc:
            logger.debug("unsubscribe of %s failed: %r", self._durable, exc)

    async def _handle(self, msg: Msg) -> None:
        delivered = msg.metadata.num_delivered or 1
        if delivered > self._max_deliver:
            await self._poison(msg, PoisonMessage(f"delivered {delivered} times"))
            return
        heartbeat = asyncio.create_task(self._in_progress(msg), name=f"{self._durable}-progress")
        try:
            async with asyncio.timeout(self._handler_timeout):
                await self._handler(msg)
        except TimeoutError:
            logger.warning(
                "handler of %s ran past %.0f s on %s; leaving it for redelivery",
                self._durable,
                self._handler_timeout,
                msg.subject,
            )
            return
        except deis_errors.PermanentError as exc:
            await self._poison(msg, exc)
            return
        except deis_errors.TransientError as exc:
            await self._retry(msg, exc=exc, delay=exc.retry_after, delivered=delivered)
            return
        except Exception as exc:  # a handler bug must not kill the consumer: retried, then poison
            logger.exception("handler of %s crashed on %s", self._durable, msg.subject)
            await self._retry(msg, exc=exc, delay=None, delivered=delivered)
            return
        finally:
            heartbeat.cancel()
        await self._answer(msg.ack(), msg=msg)

    async def _in_progress(self, msg: Msg) -> None:
        """Tell the server the message is being handled, every third of `ack_wait`."""
        while True:
            await asyncio.sleep(self._ack_wait / 3)
            try:
                await msg.in_progress()
            except nats.errors.Error as exc:  # the answer will fail too; redelivery follows
                logger.debug("in-progress of %s failed: %r", msg.subject, exc)

    async def _retry(
        self, msg: Msg, *, exc: BaseException, delay: float | None, delivered: int
    ) -> None:
        if delivered >= self._max_deliver:
            await self._poison(msg, exc)
            return
        wait = self._backoff(delivered) if delay is None else delay
        logger.info("retrying %s in %.2fs after %r", msg.subject, wait, exc)
        await self._answer(msg.nak(delay=wait), msg=msg)

    async def _poison(self, msg: Msg, exc: BaseException) -> None:
        logger.error(
            "terminating poison message on %s (consumer %s, delivery %s): %r",
            msg.subject,
            self._durable,
            msg.metadata.num_delivered,
            exc,
        )
        await self._answer(msg.term(), msg=msg)
        if self._on_poison is not None:
            await self._on_poison(msg, exc)

    async def _answer(self, reply: Awaitable[None], *, msg: Msg) -> None:
        try:
            await reply
        except nats.errors.Error as exc:
            # Nothing to do: without an answer the server redelivers after ack_wait.
            logger.warning("could not answer %s: %r", msg.subject, exc)


def _cancelling() -> bool:
    """Whether the running task itself is being cancelled (not just the fetch it awaited)."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0
