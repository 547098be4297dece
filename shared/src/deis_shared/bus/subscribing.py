"""Core NATS subscriptions held for the duration of a `with` block.

For a listener that must hear everything published from the moment it starts (a request
waiting for the router's answer to its change): the subscription is flushed, so the server
has registered it, before the block runs; it is removed when the block ends, however it ends.
"""

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

import nats.aio.client
import nats.aio.msg
import nats.errors

from deis_shared.bus import errors

logger = logging.getLogger(__name__)

Callback = Callable[[nats.aio.msg.Msg], Awaitable[None]]
"""Called with each message, in the client's reading task: it should not block."""


@contextlib.asynccontextmanager
async def subscription(
    nc: nats.aio.client.Client, *, subject: str, callback: Callback
) -> AsyncIterator[None]:
    """Subscribe `callback` to `subject` until the block ends.

    Args:
        nc: A connected client.
        subject: The subject (wildcards allowed).
        callback: Awaited with each message.

    Raises:
        BusUnavailable: The subscription could not be made or flushed.
    """
    try:
        sub = await nc.subscribe(subject, cb=callback)
    except (nats.errors.Error, TimeoutError, OSError) as exc:
        raise errors.translate(exc, context=f"subscribe to {subject}") from exc
    try:
        try:
            await nc.flush()
        except (nats.errors.Error, TimeoutError, OSError) as exc:
            raise errors.translate(exc, context=f"subscribe to {subject}") from exc
        yield
    finally:
        try:
            await sub.unsubscribe()
        except nats.errors.Error as exc:
            logger.debug("unsubscribe from %s failed: %r", subject, exc)
