"""Enqueueing: writing an outbox row in the caller's transaction.

The row commits or rolls back with the change it announces, so a NATS write is never lost
after a commit nor made for a change that rolled back. Each enqueue also sends a `NOTIFY` on
the schema's outbox channel: Postgres delivers it only at commit, and it wakes the relay at
once instead of at its next poll.

Names (subjects, buckets, keys) are checked here, where the caller can still be told, rather
than in the relay, where a bad row could only be retried and recorded.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel

from deis_shared.db import errors as db_errors
from deis_shared.kv.bucket import Bucket
from deis_shared.outbox import errors
from deis_shared.wire import M

if TYPE_CHECKING:
    from deis_shared.db.pool import Connection

CHANNEL_PREFIX = "outbox_"
"""Prefix of the notify channel; the schema name follows."""

SUBJECT = re.compile(r"^[^\s*>.]+(\.[^\s*>.]+)*$")
"""A concrete NATS subject: dot-separated tokens, no wildcards or whitespace."""

BUCKET = re.compile(r"^[a-zA-Z0-9_-]+$")
"""A JetStream KV bucket name."""

KEY = re.compile(r"^[-/_=a-zA-Z0-9]+(\.[-/_=a-zA-Z0-9]+)*$")
"""A JetStream KV key (no leading, trailing or doubled dots)."""

Kind = Literal["event", "kv_put", "kv_delete"]

_INSERT = """
WITH row AS (
    INSERT INTO outbox (id, kind, subject, bucket, key, payload, headers)
    VALUES ($1, $2, $3, $4, $5, $6, $7::text::jsonb)
    RETURNING id
)
SELECT row.id, pg_notify(left($8 || current_schema(), 63), '') FROM row
"""


def channel_name(schema: str) -> str:
    """The `LISTEN`/`NOTIFY` channel the outbox of `schema` uses (at most 63 bytes).

    Args:
        schema: The service's schema.

    Returns:
        `outbox_<schema>`, cut to Postgres' identifier length.
    """
    return f"{CHANNEL_PREFIX}{schema}"[:63]


def encode(message: BaseModel | bytes) -> bytes:
    """The wire bytes of a message: a model's JSON, or bytes as given.

    Args:
        message: A pydantic model or raw bytes.

    Returns:
        The payload.
    """
    if isinstance(message, BaseModel):
        return message.model_dump_json().encode()
    if isinstance(message, bytes | bytearray | memoryview):
        return bytes(message)
    raise TypeError(f"message must be a pydantic model or bytes, not {type(message).__name__}")


def message_id(message: BaseModel | bytes, msg_id: uuid.UUID | None) -> uuid.UUID:
    """Pick the row id (and `Nats-Msg-Id`): explicit, else the model's `id`, else a new one.

    Args:
        message: The message being enqueued.
        msg_id: An id chosen by the caller, if any.

    Returns:
        The id to use.
    """
    if msg_id is not None:
        return msg_id
    own = getattr(message, "id", None) if isinstance(message, BaseModel) else None
    if isinstance(own, uuid.UUID):
        return own
    if isinstance(own, str):
        try:
            return uuid.UUID(own)
        except ValueError:
            pass  # not a uuid: the row gets one of its own
    return uuid.uuid4()


async def enqueue_event(
    conn: Connection,
    *,
    subject: str,
    message: BaseModel | bytes,
    msg_id: uuid.UUID | None = None,
    headers: Mapping[str, str] | None = None,
    max_payload: int | None = None,
) -> uuid.UUID:
    """Add an event to the outbox, in the caller's transaction.

    Args:
        conn: A connection inside a transaction (`async with conn.transaction()`).
        subject: The concrete subject to publish on, e.g. `deis.events.release.app.created`.
        message: A pydantic model (its JSON is published) or raw bytes.
        msg_id: The row id and `Nats-Msg-Id`; defaults to the model's `id`, else a new uuid.
        headers: Extra NATS headers to publish with.
        max_payload: The most bytes the bus carries (the server's `max_payload`), if known.

    Returns:
        The row id, which is also the message's `Nats-Msg-Id`.

    Raises:
        NotInTransaction: If `conn` is not inside a transaction.
        TooLarge: If the message is larger than `max_payload`.
        ValueError: If the subject is not a concrete NATS subject.
        DatabaseError: If the insert fails (e.g. the id was enqueued already).
    """
    if SUBJECT.fullmatch(subject) is None:
        raise ValueError(f"invalid subject {subject!r}")
    return await _enqueue(
        conn,
        row_id=message_id(message, msg_id),
        kind="event",
        subject=subject,
        bucket=None,
        key=None,
        payload=encode(message),
        headers=headers,
        max_payload=max_payload,
    )


async def enqueue_kv_put(
    conn: Connection,
    *,
    bucket: str,
    key: str,
    value: BaseModel | bytes,
    msg_id: uuid.UUID | None = None,
    max_payload: int | None = None,
) -> uuid.UUID:
    """Add a KV put to the outbox, in the caller's transaction.

    The relay writes puts (and deletes) of one key in the order they were enqueued.

    Args:
        conn: A connection inside a transaction.
        bucket: The KV bucket, e.g. `desired`.
        key: The key, e.g. the app name.
        value: A pydantic model (stored as JSON) or raw bytes.
        msg_id: The row id and `Nats-Msg-Id`; defaults to a new uuid (never the model's id:
            the same value may be put twice on purpose).
        max_payload: The most bytes the bus carries (the server's `max_payload`), if known.

    Returns:
        The row id.

    Raises:
        NotInTransaction: If `conn` is not inside a transaction.
        TooLarge: If the value is larger than `max_payload`.
        ValueError: If the bucket or key is not a valid KV name.
        DatabaseError: If the insert fails.
    """
    _check_kv(bucket=bucket, key=key)
    return await _enqueue(
        conn,
        row_id=msg_id or uuid.uuid4(),
        kind="kv_put",
        subject=None,
        bucket=bucket,
        key=key,
        payload=encode(value),
        headers=None,
        max_payload=max_payload,
    )


async def enqueue_kv_delete(
    conn: Connection, *, bucket: str, key: str, msg_id: uuid.UUID | None = None
) -> uuid.UUID:
    """Add a KV delete to the outbox, in the caller's transaction.

    Args:
        conn: A connection inside a transaction.
        bucket: The KV bucket.
        key: The key to delete.
        msg_id: The row id and `Nats-Msg-Id`; defaults to a new uuid.

    Returns:
        The row id.

    Raises:
        NotInTransaction: If `conn` is not inside a transaction.
        ValueError: If the bucket or key is not a valid KV name.
        DatabaseError: If the insert fails.
    """
    _check_kv(bucket=bucket, key=key)
    return await _enqueue(
        conn,
        row_id=msg_id or uuid.uuid4(),
        kind="kv_delete",
        subject=None,
        bucket=bucket,
        key=key,
        payload=b"",
        headers=None,
    )


async def enqueue_put(
    conn: Connection,
    spec: Bucket[M],
    name: str,
    value: M,
    *,
    msg_id: uuid.UUID | None = None,
    max_payload: int | None = None,
) -> uuid.UUID:
    """Add a put of `value` to the typed bucket `spec` under `name`'s key, in the transaction.

    The key is `spec.key(name)`, validated as every reader of the bucket expects.

    Raises:
        TypeError: `value` is not the bucket's model.
        InvalidAppName, ValueError: `name` cannot be a key of the bucket.
        NotInTransaction, TooLarge, DatabaseError: as `enqueue_kv_put`.
    """
    if not isinstance(value, spec.model):
        raise TypeError(f"KV {spec.name} holds {spec.model.__name__}, not {type(value).__name__}")
    return await enqueue_kv_put(
        conn,
        bucket=spec.name,
        key=spec.key(name),
        value=value,
        msg_id=msg_id,
        max_payload=max_payload,
    )


async def enqueue_delete(
    conn: Connection, spec: Bucket[M], name: str, *, msg_id: uuid.UUID | None = None
) -> uuid.UUID:
    """Add a delete of `name`'s key from the typed bucket `spec`, in the caller's transaction.

    Raises:
        InvalidAppName, ValueError: `name` cannot be a key of the bucket.
        NotInTransaction, DatabaseError: as `enqueue_kv_delete`.
    """
    return await enqueue_kv_delete(conn, bucket=spec.name, key=spec.key(name), msg_id=msg_id)


def _check_kv(*, bucket: str, key: str) -> None:
    if BUCKET.fullmatch(bucket) is None:
        raise ValueError(f"invalid KV bucket name {bucket!r}")
    if KEY.fullmatch(key) is None:
        raise ValueError(f"invalid KV key {key!r}")


async def _enqueue(
    conn: Connection,
    *,
    row_id: uuid.UUID,
    kind: Kind,
    subject: str | None,
    bucket: str | None,
    key: str | None,
    payload: bytes,
    headers: Mapping[str, str] | None,
    max_payload: int | None = None,
) -> uuid.UUID:
    if not conn.is_in_transaction():
        raise errors.NotInTransaction(
            "enqueue the outbox row inside the transaction of the change it announces"
        )
    if max_payload is not None and len(payload) > max_payload:
        raise errors.TooLarge(size=len(payload), limit=max_payload)
    with db_errors.mapped_errors():
        await conn.fetchrow(
            _INSERT,
            row_id,
            kind,
            subject,
            bucket,
            key,
            payload,
            json.dumps(dict(headers or {})),
            CHANNEL_PREFIX,
        )
    return row_id
