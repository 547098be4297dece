"""Typed KV: put, delete, get and watch any bucket `deis_shared.kv` describes.

Every service reads and writes KV here, so the wire form is spelled once:

- a put is a JetStream publish of the value's JSON to `$KV.<bucket>.<key>` (what nats-py's
  `KeyValue.put` does), with a `Nats-Msg-Id` (the value's id unless told otherwise), so a
  retried put is stored once within the bucket's duplicate window;
- a delete is the same publish with an empty body and the `KV-Operation: DEL` header;
- a get reads the key's latest value (nats-py's `KeyValue.get`, a direct get);
- a watch is `deis_shared.bus.watching`'s, its entries decoded with the bucket's model.

Keys go through the bucket's `key` rule (app names validated for app-keyed buckets) before
anything is sent. nats-py exceptions are translated by `errors.translate`: callers see
`BusError` subclasses only.

`publish` and `write_headers` are the untyped layer under `put` and `delete`, for the outbox,
whose rows carry values already encoded and buckets by name.
"""

import dataclasses
import uuid
from typing import Generic

import nats.errors
import nats.js
import nats.js.errors

from deis_shared import wire
from deis_shared.bus import connection, errors, publishing, topology, watching
from deis_shared.kv.bucket import Bucket

OPERATION_HEADER = "KV-Operation"
"""The header that makes a publish to a key's subject a delete."""

DELETE = "DEL"
"""`KV-Operation` of a delete."""

Operation = watching.Operation


class BucketNotFound(errors.ServerRejected):
    """The bucket does not exist on the server (the topology was never ensured)."""


def subject(bucket: str, key: str) -> str:
    """The subject of `key` in bucket `bucket`: `$KV.<bucket>.<key>`."""
    return f"$KV.{bucket}.{key}"


def write_headers(
    *, msg_id: str, delete: bool = False, headers: dict[str, str] | None = None
) -> dict[str, str]:
    """The headers of a KV write: `headers`, then `Nats-Msg-Id`, then `KV-Operation` for a delete.

    Args:
        msg_id: The de-duplication id.
        delete: Whether the write deletes the key.
        headers: Extra headers, first.

    Returns:
        The headers, in the order they are sent.
    """
    written = {**(headers or {}), publishing.MSG_ID_HEADER: msg_id}
    if delete:
        written[OPERATION_HEADER] = DELETE
    return written


async def publish(
    js: connection.JetStream,
    *,
    bucket: str,
    key: str,
    data: bytes,
    headers: dict[str, str],
    timeout: float = 5.0,  # noqa: ASYNC109 -- the ack wait nats-py applies, not ours
) -> int:
    """Publish one KV write as it is: no key rule, no encoding (`put`/`delete` add those).

    Args:
        js: The JetStream context.
        bucket: The bucket name.
        key: The key, as it goes on the wire.
        data: The value's bytes (empty for a delete).
        headers: Every header, `Nats-Msg-Id` included (`write_headers`).
        timeout: Seconds to wait for the ack.

    Returns:
        The write's sequence in the bucket's stream.

    Raises:
        BusUnavailable: No ack in time, or no stream/server answered.
        ServerRejected: The stream refused the write.
    """
    target = subject(bucket, key)
    try:
        ack = await js.publish(target, data, timeout=timeout, headers=headers)
    except (nats.errors.Error, TimeoutError, OSError) as exc:
        raise errors.translate(exc, context=f"publish to {target}") from exc
    return ack.seq


async def put(
    js: connection.JetStream,
    bucket: Bucket[wire.M],
    key: str,
    value: wire.M,
    *,
    msg_id: str | None = None,
    timeout: float = 5.0,  # noqa: ASYNC109 -- the ack wait nats-py applies, not ours
) -> int:
    """Write `value` as the latest value of `key`.

    Args:
        js: The JetStream context.
        bucket: The bucket (`deis_shared.kv.<bucket>.SPEC`).
        key: The key, or the name the bucket's `key` rule turns into it.
        value: The whole value.
        msg_id: The de-duplication id (default: the value's id).
        timeout: Seconds to wait for the ack.

    Returns:
        The put's sequence in the bucket's stream (what watchers see as its revision).

    Raises:
        InvalidAppName, ValueError: `key` is not a key of this bucket.
        BusUnavailable: No ack in time, or no stream/server answered.
        ServerRejected: The stream refused the write.
    """
    return await publish(
        js,
        bucket=bucket.name,
        key=bucket.key(key),
        data=wire.encode(value),
        headers=write_headers(msg_id=str(value.id) if msg_id is None else msg_id),
        timeout=timeout,
    )


async def delete(
    js: connection.JetStream,
    bucket: Bucket[wire.M],
    key: str,
    *,
    msg_id: str | None = None,
    timeout: float = 5.0,  # noqa: ASYNC109 -- the ack wait nats-py applies, not ours
) -> int:
    """Delete `key` (watchers see a `DEL`).

    Args:
        js: The JetStream context.
        bucket: The bucket (`deis_shared.kv.<bucket>.SPEC`).
        key: The key, or the name the bucket's `key` rule turns into it.
        msg_id: The de-duplication id (default: a new one).
        timeout: Seconds to wait for the ack.

    Returns:
        The delete's sequence in the bucket's stream.

    Raises:
        InvalidAppName, ValueError: `key` is not a key of this bucket.
        BusUnavailable: No ack in time, or no stream/server answered.
        ServerRejected: The stream refused the write.
    """
    # `KV-Operation` first, as the services' deletes have always been sent (the outbox's rows
    # put it last: `write_headers`); the server reads both the same.
    headers = {
        OPERATION_HEADER: DELETE,
        publishing.MSG_ID_HEADER: str(uuid.uuid4()) if msg_id is None else msg_id,
    }
    return await publish(
        js, bucket=bucket.name, key=bucket.key(key), data=b"", headers=headers, timeout=timeout
    )


async def read(js: connection.JetStream, bucket: Bucket[wire.M], key: str) -> bytes | None:
    """The bytes of `key`'s latest value; None when the key is absent, deleted or purged.

    Raises:
        InvalidAppName, ValueError: `key` is not a key of this bucket.
        BucketNotFound: The bucket does not exist.
        BusUnavailable: The server did not answer.
    """
    name = bucket.key(key)
    try:
        store = await js.key_value(bucket.name)
        entry = await store.get(name)
    except nats.js.errors.BucketNotFoundError as exc:
        raise BucketNotFound(f"KV bucket {bucket.name} does not exist") from exc
    except nats.js.errors.KeyNotFoundError:  # also a deleted or purged key
        return None
    except (nats.errors.Error, TimeoutError, OSError) as exc:
        raise errors.translate(exc, context=f"get {bucket.name}/{name}") from exc
    return entry.value if entry.value is not None else b""


async def get(js: connection.JetStream, bucket: Bucket[wire.M], key: str) -> wire.M | None:
    """`key`'s latest value; None when the key is absent, deleted or purged, or empty.

    Args:
        js: The JetStream context (its timeout bounds the read).
        bucket: The bucket (`deis_shared.kv.<bucket>.SPEC`).
        key: The key, or the name the bucket's `key` rule turns into it.

    Returns:
        The value, decoded with the bucket's model.

    Raises:
        InvalidAppName, ValueError: `key` is not a key of this bucket.
        BucketNotFound: The bucket does not exist.
        InvalidMessage: The value does not validate against the bucket's model.
        BusUnavailable: The server did not answer.
    """
    data = await read(js, bucket, key)
    if not data:
        return None
    try:
        return wire.decode(data, bucket.model)
    except wire.InvalidPayload as exc:
        raise errors.InvalidMessage(f"{bucket.name}/{key}: {exc}") from exc


async def count(js: connection.JetStream, bucket: Bucket[wire.M]) -> int:
    """Messages the bucket's stream holds (0: a watch of it would deliver nothing).

    Raises:
        BusError: The stream could not be read (missing, or the server away).
    """
    stream = topology.bucket_stream(bucket.name)
    try:
        info = await js.stream_info(stream)
    except (nats.errors.Error, TimeoutError, OSError) as exc:
        raise errors.translate(exc, context=f"read stream {stream}") from exc
    return info.state.messages


@dataclasses.dataclass(frozen=True, slots=True)
class Entry(Generic[wire.M]):
    """One key of a watched bucket at one revision; decode its value with `value()`."""

    bucket: Bucket[wire.M]
    key: str
    """The key as on the wire: not validated (`bucket.key(entry.key)` does)."""
    data: bytes | None
    """The value's bytes; None for deletes and purges."""
    revision: int
    operation: Operation
    pending: int
    """Messages the server still had queued for this watch: 0 means caught up."""

    def value(self) -> wire.M | None:
        """The value, decoded with the bucket's model; None for deletes and purges.

        Raises:
            InvalidPayload: The value does not validate against the bucket's model.
        """
        if self.data is None:
            return None
        return wire.decode(self.data, self.bucket.model)


class Watcher(Generic[wire.M]):
    """Async iterator over the typed entries of one bucket: `watching.Watcher`'s, decoded."""

    def __init__(self, bucket: Bucket[wire.M], watcher: watching.Watcher) -> None:
        self.bucket = bucket
        self._watcher = watcher

    @property
    def state(self) -> watching.WatcherState:
        """The lifecycle state."""
        return self._watcher.state

    def __aiter__(self) -> "Watcher[wire.M]":
        return self

    async def __anext__(self) -> Entry[wire.M]:
        entry = await self._watcher.__anext__()
        return Entry(
            bucket=self.bucket,
            key=entry.key,
            data=entry.value,
            revision=entry.revision,
            operation=entry.operation,
            pending=entry.pending,
        )

    async def close(self) -> None:
        """End iteration and remove the consumer. Idempotent."""
        await self._watcher.close()


def watch(
    js: connection.JetStream,
    bucket: Bucket[wire.M],
    *,
    nc: connection.Client,
    keys: str = ">",
) -> Watcher[wire.M]:
    """Start watching `bucket`: `async for entry in watcher`, then `await watcher.close()`.

    Every key's latest value first, then every change, across restarts (`watching`).

    Args:
        js: The JetStream context.
        bucket: The bucket (`deis_shared.kv.<bucket>.SPEC`).
        nc: The client behind `js` (its reconnect count tells when to start over).
        keys: A key pattern (`>` for all keys).

    Returns:
        A watcher; nothing is sent to the server before the first `__anext__`.
    """
    return Watcher(bucket, watching.watch(js=js, nc=nc, bucket=bucket.name, keys=keys))
