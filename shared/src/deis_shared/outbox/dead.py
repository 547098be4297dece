"""Dead rows: outbox rows that cannot be published, set aside instead of retried forever.

A row is dead

- at once when it can never be published: its message (payload and headers) is larger than
  the connected server's `max_payload` (checked before publishing, so the server never sees
  it and closes the connection), nats-py refuses it with `MaxPayloadError`, or JetStream
  answers that it exceeds the stream's maximum message size (`10054`);
- after `max_attempts` rejections: attempts that failed for the row's own reason (no stream
  took it, a JetStream API error). Attempts that failed because NATS was away (timeouts, a
  lost connection) are not rejections: an outage never kills a row.

A dead row is final. The relay stamps `dead_at`, keeps `last_error` and the payload for
inspection, never scans the row again, and lets the later rows of its KV key go out: a KV
value is level-triggered, so the key's next row carries the whole value and supersedes the
dead one (publishing the dead row after it would put an older value back). Dead rows are
deleted after the relay's `dead_retention` (`retention.delete_dead`), a week by default:
longer than sent rows, so that someone has time to look.

Each dead row is reported once: `DeadHook`, awaited inside the transaction that marks the row
dead (what it writes, e.g. an outbox row of its own, commits with the mark), then an ERROR log
line and the relay's metric after that transaction commits.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import nats.errors
import nats.js.errors

from deis_shared.outbox import outbox

if TYPE_CHECKING:
    from deis_shared.db.pool import Connection

logger = logging.getLogger(__name__)

MESSAGE_EXCEEDS_MAXIMUM = 10054
"""JetStream's `JSStreamMessageExceedsMaximumErr`: larger than the stream accepts."""

DEFAULT_MAX_ATTEMPTS = 8
"""Rejections a row gets before it is set aside: with the default backoff, about two minutes."""

_HEADER_LINE = len("NATS/1.0\r\n") + len("\r\n")
"""Bytes of the header block's status line and blank line (NATS protocol `HPUB`)."""


@dataclass(frozen=True)
class DeadRow:
    """An outbox row set aside as dead: what a `DeadHook` and the log line are told."""

    id: uuid.UUID
    """The row id (and the message's `Nats-Msg-Id`)."""

    kind: outbox.Kind
    """`event`, `kv_put` or `kv_delete`."""

    subject: str | None
    """The event's subject; None for KV rows."""

    bucket: str | None
    """The KV bucket; None for events."""

    key: str | None
    """The KV key; None for events."""

    attempts: int
    """Publishes tried, the last one included."""

    error: str
    """The last failure, as recorded in `last_error`."""

    too_large: bool
    """Refused for its size: it can never be published, whatever the retries."""

    size: int
    """Bytes of the message on the wire: payload and headers."""

    max_payload: int
    """The connected server's largest message, in bytes, when the row died."""

    @property
    def target(self) -> str:
        """Where the row was going: the subject, or `<bucket>/<key>`."""
        if self.kind == "event":
            return self.subject or ""
        return f"{self.bucket}/{self.key}"


DeadHook = Callable[["Connection", DeadRow], Awaitable[None]]
"""Awaited for each dead row inside the transaction that marks it dead, with its connection."""


class MessageTooLarge(nats.errors.MaxPayloadError):
    """The message is larger than the server's `max_payload`: found before publishing."""

    def __init__(self, *, size: int, max_payload: int) -> None:
        super().__init__()
        self.size = size
        self.max_payload = max_payload

    def __str__(self) -> str:
        return (
            f"the message is {self.size} bytes, more than the {self.max_payload} bytes the "
            "NATS server accepts (max_payload)"
        )


def wire_size(payload: bytes, headers: Mapping[str, str]) -> int:
    """Bytes a message takes against the server's `max_payload`: payload plus header block.

    Args:
        payload: The message body.
        headers: The headers it is published with.

    Returns:
        The size in bytes.
    """
    if not headers:
        return len(payload)
    lines = sum(len(f"{name}: {value}\r\n".encode()) for name, value in headers.items())
    return len(payload) + _HEADER_LINE + lines


def is_too_large(exc: BaseException) -> bool:
    """Whether a publish failed for the message's size, which no retry can change.

    Args:
        exc: What the publish raised.

    Returns:
        True for `MaxPayloadError` (ours or nats-py's) and JetStream's `10054`.
    """
    if isinstance(exc, nats.errors.MaxPayloadError):
        return True
    return isinstance(exc, nats.js.errors.APIError) and exc.err_code == MESSAGE_EXCEEDS_MAXIMUM


def describe(exc: BaseException) -> str:
    """The text recorded as `last_error` for a failure.

    Args:
        exc: What the publish raised.

    Returns:
        `<type>: <message>`, at most 2000 characters.
    """
    return f"{type(exc).__name__}: {exc}"[:2000]


async def call_hook(hook: DeadHook, conn: Connection, row: DeadRow) -> None:
    """Await `hook` for `row` in a savepoint: if it fails, its writes roll back, the mark stays.

    Args:
        hook: The service's callback.
        conn: The connection of the round's transaction.
        row: The dead row.
    """
    try:
        async with conn.transaction():
            await hook(conn, row)
    except Exception:  # a failing report must not keep a dead row alive: log it, go on
        logger.exception("outbox dead-row hook failed for row %s", row.id)


def log_dead(row: DeadRow) -> None:
    """Write the ERROR line that reports a dead row, once, after its mark committed.

    Args:
        row: The dead row.
    """
    logger.error(
        "outbox row %s (%s to %s) set aside as dead after %d attempts: %s",
        row.id,
        row.kind,
        row.target,
        row.attempts,
        row.error,
        extra={
            "row": str(row.id),
            "kind": row.kind,
            "subject": row.subject,
            "bucket": row.bucket,
            "key": row.key,
            "attempts": row.attempts,
            "error": row.error,
        },
    )
