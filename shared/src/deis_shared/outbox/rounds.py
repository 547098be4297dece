"""One relay round: claim due outbox rows, publish them to JetStream, record the outcome.

The round runs in one transaction that holds its rows `FOR UPDATE SKIP LOCKED` from the
select to the mark-sent, so relays in several replicas share the table without publishing a
row twice at once. A relay killed after publishing but before committing leaves its rows
unsent; the next round publishes them again with the same `Nats-Msg-Id` (the row id) and
JetStream drops the duplicate inside the stream's duplicate window.

A row moves from pending to sent, or to dead (`dead`): set aside at once when it is larger
than the server's `max_payload`, or after `max_attempts` rejections (failures that were the
row's own fault). A failure because NATS is away ends the round and is retried with backoff
without counting toward the bound, so an outage never kills a row.

Order per KV key: a put or delete is published only when every earlier pending row of the
same bucket and key has been published in this same round. A failed row therefore holds back
the later rows of its key (in this round, and in later rounds while it waits out its backoff),
and a row claimed by another relay holds back the later rows it did not claim. A dead row
holds nothing back: the key's later rows carry the whole, newer value and supersede it, and
the dead row is never tried again, so it can never overwrite them. Events carry no such order.

KV writes go out through `deis_shared.bus.kv.publish` (a publish to the key's subject rather
than `KeyValue.put`, because only `publish` can carry the `Nats-Msg-Id` header), events through
`deis_shared.bus.publishing`. Both raise `BusError`s chained to nats-py's exception, which is
what a row's failure is sorted and recorded by.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

import asyncpg
import nats.errors
from nats.js import JetStreamContext

from deis_shared.bus import errors as bus_errors, kv, publishing
from deis_shared.db import errors as db_errors, pool as db_pool
from deis_shared.outbox import dead as outbox_dead, outbox

if TYPE_CHECKING:
    from deis_shared.db.pool import Pool

Clock = Callable[[], datetime]
"""Returns the current time, timezone-aware."""

PublishHook = Callable[[uuid.UUID], Awaitable[None]]
"""Called after each successful publish, before the round marks anything sent."""

NATS_AWAY: tuple[type[BaseException], ...] = (
    nats.errors.TimeoutError,
    nats.errors.ConnectionClosedError,
    nats.errors.ConnectionDrainingError,
    nats.errors.ConnectionReconnectingError,
    nats.errors.NoServersError,
    nats.errors.StaleConnectionError,
    nats.errors.OutboundBufferLimitError,
    TimeoutError,
)
"""Publish failures that mean NATS itself is away: the rest of the round would fail too."""

_CLAIM = """
SELECT id, seq, kind, subject, bucket, key, payload, headers::text AS headers, attempts,
       rejections
FROM {table}
WHERE sent_at IS NULL AND dead_at IS NULL AND next_attempt_at <= $1
ORDER BY seq
LIMIT $2
FOR UPDATE SKIP LOCKED
"""

_EARLIER = """
SELECT o.bucket, o.key, o.seq
FROM {table} o
JOIN unnest($1::text[], $2::text[]) AS k(bucket, key) ON o.bucket = k.bucket AND o.key = k.key
WHERE o.sent_at IS NULL AND o.dead_at IS NULL AND o.kind <> 'event' AND o.seq < $3
"""

_RETRY = """
UPDATE {table}
SET attempts = attempts + 1, rejections = rejections + $2, last_error = $3, next_attempt_at = $4
WHERE id = $1
"""

_DEAD = """
UPDATE {table}
SET attempts = attempts + 1, rejections = rejections + 1, last_error = $2, dead_at = $3
WHERE id = $1
"""


def utc_now() -> datetime:
    """The wall clock, in UTC: the default `Clock`."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class Backoff:
    """Exponential retry delays: `base`, `2*base`, `4*base`... capped at `cap` seconds."""

    base: float = 1.0
    """Delay after the first failure, in seconds."""

    cap: float = 300.0
    """Longest delay, in seconds."""

    def delay(self, attempts: int) -> float:
        """Seconds to wait before the next try, after `attempts` failures (1 or more).

        Args:
            attempts: Failures so far, including the one just recorded.

        Returns:
            The delay in seconds.
        """
        return min(self.cap, self.base * 2.0 ** max(0, min(attempts - 1, 62)))


def _table(schema: str) -> str:
    return f'"{db_pool.validate_schema_name(schema)}".outbox'


@dataclass(frozen=True)
class Round:
    """What one round did."""

    published: int = 0
    """Rows published and marked sent."""

    dead: tuple[outbox_dead.DeadRow, ...] = ()
    """Rows set aside as dead, reported once each."""


@dataclass
class _Outcome:
    """The rows of a round, sorted by what happened to them while publishing."""

    sent: list[uuid.UUID] = field(default_factory=list)
    retry: list[tuple[asyncpg.Record, BaseException]] = field(default_factory=list)
    dead: list[tuple[asyncpg.Record, BaseException]] = field(default_factory=list)


async def relay_once(pool: Pool, **options: Any) -> int:
    """One round (`relay_round`, with the same keyword arguments), counting the rows published.

    Returns:
        The number of rows published and marked sent.
    """
    return (await relay_round(pool, **options)).published


async def relay_round(
    pool: Pool,
    *,
    js: JetStreamContext,
    schema: str,
    batch_size: int = 100,
    publish_timeout: float = 5.0,
    backoff: Backoff | None = None,
    max_attempts: int = outbox_dead.DEFAULT_MAX_ATTEMPTS,
    clock: Clock = utc_now,
    after_publish: PublishHook | None = None,
    on_dead: outbox_dead.DeadHook | None = None,
) -> Round:
    """Publish one batch of due outbox rows and record what happened to each.

    Rows set aside as dead are logged at ERROR here and reported to `on_dead`.

    Args:
        pool: A pool on the database holding `<schema>.outbox`.
        js: The JetStream context to publish with.
        schema: The schema of the outbox table.
        batch_size: Rows claimed at most.
        publish_timeout: Seconds to wait for each publish acknowledgement.
        backoff: Retry delays for failed rows (default `Backoff()`).
        max_attempts: Rejections after which a row is set aside as dead.
        clock: The time rows are compared with and stamped with.
        after_publish: Awaited after each publish, before mark-sent (tests and benches).
        on_dead: Awaited for each row set aside, in the transaction that marks it dead.

    Returns:
        The rows published and marked sent, and the rows set aside.

    Raises:
        DatabaseUnavailable: If PostgreSQL is away (nothing is marked; rows stay due).
        DatabaseError: For other database failures.
    """
    table = _table(schema)
    backoff = backoff or Backoff()
    now = clock()
    with db_errors.mapped_errors():
        async with pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(_CLAIM.format(table=table), now, batch_size)
            if not rows:
                return Round()
            earlier = await _earlier_unsent(conn, table=table, rows=rows)
            limit = server_max_payload(js)
            outcome = await _publish_rows(
                rows,
                js=js,
                earlier=earlier,
                publish_timeout=publish_timeout,
                max_attempts=max_attempts,
                max_payload=limit,
                after_publish=after_publish,
            )
            stamp = clock()
            if outcome.sent:
                await conn.execute(
                    f"UPDATE {table} SET sent_at = $2 WHERE id = ANY($1::uuid[])",
                    outcome.sent,
                    stamp,
                )
            if outcome.retry:
                await conn.executemany(
                    _RETRY.format(table=table),
                    [
                        (
                            row["id"],
                            0 if isinstance(exc, NATS_AWAY) else 1,
                            outbox_dead.describe(exc),
                            stamp + timedelta(seconds=backoff.delay(row["attempts"] + 1)),
                        )
                        for row, exc in outcome.retry
                    ],
                )
            died = tuple(_dead_row(row, exc, max_payload=limit) for row, exc in outcome.dead)
            for row in died:
                await conn.execute(_DEAD.format(table=table), row.id, row.error, stamp)
                if on_dead is not None:
                    await outbox_dead.call_hook(on_dead, conn, row)
    for row in died:
        outbox_dead.log_dead(row)
    return Round(published=len(outcome.sent), dead=died)


def server_max_payload(js: JetStreamContext) -> int:
    """The largest message, in bytes, the server `js` is connected to accepts.

    nats-py keeps the connection of a JetStream context private; its `max_payload` comes from
    the server's INFO and is what the client itself checks payloads against.

    Args:
        js: The JetStream context.

    Returns:
        The server's `max_payload`.
    """
    return int(js._nc.max_payload)


def _dead_row(row: asyncpg.Record, exc: BaseException, *, max_payload: int) -> outbox_dead.DeadRow:
    return outbox_dead.DeadRow(
        id=row["id"],
        kind=cast(outbox.Kind, row["kind"]),
        subject=row["subject"],
        bucket=row["bucket"],
        key=row["key"],
        attempts=row["attempts"] + 1,
        error=outbox_dead.describe(exc),
        too_large=outbox_dead.is_too_large(exc),
        size=outbox_dead.wire_size(bytes(row["payload"]), _headers(row)),
        max_payload=max_payload,
    )


async def _earlier_unsent(
    conn: Any, *, table: str, rows: list[asyncpg.Record]
) -> dict[tuple[str, str], list[int]]:
    """Pending seqs of the batch's KV keys below the batch's last seq, claimed or not."""
    keys = sorted({(r["bucket"], r["key"]) for r in rows if r["kind"] != "event"})
    if not keys:
        return {}
    found = await conn.fetch(
        _EARLIER.format(table=table),
        [b for b, _ in keys],
        [k for _, k in keys],
        rows[-1]["seq"],
    )
    earlier: dict[tuple[str, str], list[int]] = {}
    for r in found:
        earlier.setdefault((r["bucket"], r["key"]), []).append(r["seq"])
    return earlier


async def _publish_rows(
    rows: list[asyncpg.Record],
    *,
    js: JetStreamContext,
    earlier: dict[tuple[str, str], list[int]],
    publish_timeout: float,
    max_attempts: int,
    max_payload: int,
    after_publish: PublishHook | None,
) -> _Outcome:
    """Publish in seq order; sort the rows into sent, to retry and dead."""
    outcome = _Outcome()
    done_seqs: set[int] = set()  # published or dead: no longer holding later rows back
    held: set[tuple[str, str]] = set()
    for row in rows:
        kv_key = None if row["kind"] == "event" else (row["bucket"], row["key"])
        if kv_key is not None:
            if kv_key in held:
                continue
            seq = row["seq"]
            if any(s < seq and s not in done_seqs for s in earlier.get(kv_key, ())):
                held.add(kv_key)
                continue
        try:
            await _publish(js, row=row, publish_timeout=publish_timeout, max_payload=max_payload)
        except (bus_errors.BusError, outbox_dead.MessageTooLarge) as raised:
            exc = _original(raised)
            if isinstance(exc, NATS_AWAY):
                outcome.retry.append((row, exc))
                break
            if not isinstance(exc, nats.errors.Error):
                raise
            # this row's fault (no stream, too large): go on
            if outbox_dead.is_too_large(exc) or row["rejections"] + 1 >= max_attempts:
                outcome.dead.append((row, exc))
                done_seqs.add(row["seq"])
            else:
                outcome.retry.append((row, exc))
                if kv_key is not None:
                    held.add(kv_key)
            continue
        done_seqs.add(row["seq"])
        outcome.sent.append(row["id"])
        if after_publish is not None:
            await after_publish(row["id"])
    return outcome


def _original(raised: BaseException) -> BaseException:
    """What nats-py raised under a translated `BusError` (the row is judged by it)."""
    if isinstance(raised, bus_errors.BusError) and raised.__cause__ is not None:
        return raised.__cause__
    return raised


def _headers(row: asyncpg.Record) -> dict[str, str]:
    return kv.write_headers(
        msg_id=str(row["id"]),
        delete=row["kind"] == "kv_delete",
        headers=json.loads(row["headers"]) if row["headers"] else None,
    )


async def _publish(
    js: JetStreamContext, *, row: asyncpg.Record, publish_timeout: float, max_payload: int
) -> None:
    headers = _headers(row)
    payload = bytes(row["payload"])
    size = outbox_dead.wire_size(payload, headers)
    if size > max_payload:
        # Sent anyway, the server would answer with an error and close the connection.
        raise outbox_dead.MessageTooLarge(size=size, max_payload=max_payload)
    if row["kind"] == "event":
        await publishing.publish(
            js,
            subject=row["subject"],
            data=payload,
            msg_id=str(row["id"]),
            headers=headers,
            timeout=publish_timeout,
        )
        return
    await kv.publish(
        js,
        bucket=row["bucket"],
        key=row["key"],
        data=payload,
        headers=headers,
        timeout=publish_timeout,
    )
