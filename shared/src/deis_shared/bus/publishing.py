"""Publishing to JetStream with de-duplication ids, one at a time or many in flight.

Every publish carries `Nats-Msg-Id`, so a retried publish (the outbox relay after a crash)
stores one message within the stream's duplicate window.

`publish_many` uses nats-py's `publish_async`: it sends without waiting and resolves a future
when the ack arrives, so N publishes cost about one round trip instead of N. The futures have
no timeout of their own, so the whole batch is bounded by `timeout` here.
"""

import asyncio
import dataclasses
from collections.abc import Sequence

import nats.aio.client
import nats.errors
import nats.js
import nats.js.api
import pydantic

from deis_shared.bus import errors

PubAck = nats.js.api.PubAck
MSG_ID_HEADER = "Nats-Msg-Id"


@dataclasses.dataclass(frozen=True, slots=True)
class Outgoing:
    """One message for `publish_many`."""

    subject: str
    data: bytes | pydantic.BaseModel
    msg_id: str
    headers: dict[str, str] | None = None


def encode(data: bytes | pydantic.BaseModel) -> bytes:
    """Bytes as they are; a model as its JSON by alias."""
    if isinstance(data, pydantic.BaseModel):
        return data.model_dump_json(by_alias=True).encode()
    return data


def _headers(*, msg_id: str, headers: dict[str, str] | None) -> dict[str, str]:
    return {**(headers or {}), MSG_ID_HEADER: msg_id}


async def publish(
    js: nats.js.JetStreamContext,
    *,
    subject: str,
    data: bytes | pydantic.BaseModel,
    msg_id: str,
    headers: dict[str, str] | None = None,
    timeout: float = 5.0,  # noqa: ASYNC109 -- the ack wait nats-py applies, not ours
) -> PubAck:
    """Publish one message and wait for the stream's acknowledgement.

    Args:
        js: The JetStream context.
        subject: A subject some stream captures.
        data: Raw bytes, or a model sent as its JSON (by alias).
        msg_id: The de-duplication id (an event or outbox id).
        headers: Extra headers.
        timeout: Seconds to wait for the ack.

    Returns:
        The ack; `duplicate` is true when the id was seen within the window.

    Raises:
        BusUnavailable: No ack in time, or no stream/server answered.
        ServerRejected: The stream refused the message.
    """
    try:
        return await js.publish(
            subject,
            encode(data),
            timeout=timeout,
            headers=_headers(msg_id=msg_id, headers=headers),
        )
    except (nats.errors.Error, TimeoutError, OSError) as exc:
        raise errors.translate(exc, context=f"publish to {subject}") from exc


async def publish_many(
    js: nats.js.JetStreamContext,
    *,
    messages: Sequence[Outgoing],
    max_in_flight: int = 1000,
    timeout: float = 5.0,  # noqa: ASYNC109 -- one bound for the batch, as `publish` has
) -> list[PubAck]:
    """Publish many messages with up to `max_in_flight` acks outstanding.

    Messages are sent in order; on failure some may be stored and others not, which is safe
    to retry as a whole because every message has its `msg_id`.

    Args:
        js: The JetStream context.
        messages: What to publish.
        max_in_flight: Publishes sent but not yet acknowledged, at most.
        timeout: Seconds for the whole batch.

    Returns:
        The acks, in the order of `messages`.

    Raises:
        BusUnavailable: Acks did not all arrive in time, or the server went away.
        ServerRejected: The stream refused a message.
    """
    window = asyncio.Semaphore(max_in_flight)
    futures: list[asyncio.Future[PubAck]] = []
    try:
        async with asyncio.timeout(timeout):
            for message in messages:
                await window.acquire()
                future = await js.publish_async(
                    message.subject,
                    encode(message.data),
                    headers=_headers(msg_id=message.msg_id, headers=message.headers),
                )
                future.add_done_callback(lambda _: window.release())
                futures.append(future)
            return list(await asyncio.gather(*futures))
    except (nats.errors.Error, TimeoutError, OSError) as exc:
        raise errors.translate(exc, context=f"publish {len(messages)} messages") from exc
    finally:
        for future in futures:
            future.cancel()  # no-op on resolved ones; frees nats-py's bookkeeping for the rest


async def send(nc: nats.aio.client.Client, *, subject: str, data: bytes) -> None:
    """Publish one message on core NATS: no stream, no ack (log lines, notices).

    Args:
        nc: The client; while it reconnects, nats-py buffers the message.
        subject: The subject.
        data: The body.

    Raises:
        BusUnavailable: The client is closed or cannot take the message.
    """
    try:
        await nc.publish(subject, data)
    except (nats.errors.Error, OSError) as exc:
        raise errors.translate(exc, context=f"publish to {subject}") from exc


async def flush(nc: nats.aio.client.Client) -> None:
    """Wait until the server has read everything published so far on `nc` (a PING/PONG).

    Raises:
        BusUnavailable: The client is closed or the PONG did not come back in time.
    """
    try:
        await nc.flush()
    except (nats.errors.Error, TimeoutError, OSError) as exc:
        raise errors.translate(exc, context="flush") from exc
