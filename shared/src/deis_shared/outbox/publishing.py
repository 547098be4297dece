"""One relay round: claim due outbox rows, publish them to JetStream, record the outcome.

The round runs in one transaction that holds its rows `FOR UPDATE SKIP LOCKED` from the
select to the mark-sent, so relays in several replicas share the table without publishing a
row twice at once. A relay killed after publishing but before committing leaves its rows
unsent; the next round publishes them again with the same `Nats-Msg-Id` (the row id) and
JetStream drops the duplicate inside the stream's duplicate window.

Order per KV key: a put or delete is published only when every earlier unsent row of the
same bucket and key has been published in this same round. A failed row therefore holds back
the later rows of its key (in this round, and in later rounds while it waits out its backoff),
and a row claimed by another relay holds back the later rows it did not claim. Events carry
no such order.

KV writes go to the bucket's subject (`$KV.<bucket>.<key>`) with `js.publish` rather than
`KeyValue.put`, because only `publish` can carry the `Nats-Msg-Id` header.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import asyncpg
import nats.errors
from nats.js import JetStreamContext

from deis_shared.db import errors as db_errors, pool as db_pool

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
SELECT id, seq, kind, subject, bucket, key, payload, headers::text AS headers, attempts
FROM {table}
WHERE sent_at IS NULL AND next_attempt_at <= $1
ORDER BY seq
LIMIT $2
FOR UPDATE SKIP LOCKED
"""

_EARLIER = """
SELECT o.bucket, o.key, o.seq
FROM {table} o
JOIN unnest($1::text[], $2::text[]) AS k(bucket, key) ON o.bucket = k.bucket AND o.key = k.key
WHERE o.sent_at IS NULL AND o.kind <> 'event' AND o.seq < $3
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


async def relay_once(
    pool: Pool,
    *,
    js: JetStreamContext,
    schema: str,
    batch_size: int = 100,
    publish_timeout: float = 5.0,
    backoff: Backoff | None = None,
    clock: Clock = utc_now,
    after_publish: PublishHook | None = None,
) -> int:
    """Publish one batch of due outbox rows and record what happened to each.

    Args:
        pool: A pool on the database holding `<schema>.outbox`.
        js: The JetStream context to publish with.
        schema: The schema of the outbox table.
        batch_size: Rows claimed at most.
        publish_timeout: Seconds to wait for each publish acknowledgement.
        backoff: Retry delays for failed rows (default `Backoff()`).
        clock: The time rows are compared with and stamped with.
        after_publish: Awaited after each publish, before mark-sent (tests and benches).

    Returns:
        The number of rows published and marked sent.

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
                return 0
            earlier = await _earlier_unsent(conn, table=table, rows=rows)
            sent, failed = await _publish_rows(
                rows,
                js=js,
                earlier=earlier,
                publish_timeout=publish_timeout,
                after_publish=after_publish,
            )
            stamp = clock()
            if sent:
                await conn.execute(
                    f"UPDATE {table} SET sent_at = $2 WHERE id = ANY($1::uuid[])", sent, stamp
                )
            if failed:
                await conn.executemany(
                    f"UPDATE {table} SET attempts = attempts + 1, last_error = $2, "
                    "next_attempt_at = $3 WHERE id = $1",
                    [
                        (
                            row["id"],
                            f"{type(exc).__name__}: {exc}"[:2000],
                            stamp + timedelta(seconds=backoff.delay(row["attempts"] + 1)),
                        )
                        for row, exc in failed
                    ],
                )
    return len(sent)


async def _earlier_unsent(
    conn: Any, *, table: str, rows: list[asyncpg.Record]
) -> dict[tuple[str, str], list[int]]:
    """Unsent seqs of the batch's KV keys below the batch's last seq, claimed or not."""
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
    after_publish: PublishHook | None,
) -> tuple[list[uuid.UUID], list[tuple[asyncpg.Record, BaseException]]]:
    """Publish in seq order; return the ids sent and the rows failed with their errors."""
    sent: list[uuid.UUID] = []
    failed: list[tuple[asyncpg.Record, BaseException]] = []
    published_seqs: set[int] = set()
    held: set[tuple[str, str]] = set()
    for row in rows:
        kv_key = None if row["kind"] == "event" else (row["bucket"], row["key"])
        if kv_key is not None:
            if kv_key in held:
                continue
            seq = row["seq"]
            if any(s < seq and s not in published_seqs for s in earlier.get(kv_key, ())):
                held.add(kv_key)
                continue
        try:
            await _publish(js, row=row, publish_timeout=publish_timeout)
        except NATS_AWAY as exc:
            failed.append((row, exc))
            break
        except nats.errors.Error as exc:  # this row's fault (no stream, bad subject): go on
            failed.append((row, exc))
            if kv_key is not None:
                held.add(kv_key)
            continue
        published_seqs.add(row["seq"])
        sent.append(row["id"])
        if after_publish is not None:
            await after_publish(row["id"])
    return sent, failed


async def _publish(js: JetStreamContext, *, row: asyncpg.Record, publish_timeout: float) -> None:
    headers: dict[str, str] = {}
    if row["headers"]:
        headers.update(json.loads(row["headers"]))
    headers["Nats-Msg-Id"] = str(row["id"])
    kind = row["kind"]
    if kind == "event":
        subject = row["subject"]
    else:
        subject = f"$KV.{row['bucket']}.{row['key']}"
        if kind == "kv_delete":
            headers["KV-Operation"] = "DEL"
    await js.publish(subject, bytes(row["payload"]), timeout=publish_timeout, headers=headers)


async def delete_sent(
    pool: Pool, *, schema: str, older_than: timedelta, clock: Clock = utc_now
) -> int:
    """Delete rows sent more than `older_than` ago.

    Args:
        pool: A pool on the database holding `<schema>.outbox`.
        schema: The schema of the outbox table.
        older_than: How long sent rows are kept (for inspection).
        clock: The current time.

    Returns:
        The number of rows deleted.

    Raises:
        DatabaseUnavailable: If PostgreSQL is away.
        DatabaseError: For other database failures.
    """
    with db_errors.mapped_errors():
        status = await pool.execute(
            f"DELETE FROM {_table(schema)} WHERE sent_at IS NOT NULL AND sent_at < $1",
            clock() - older_than,
        )
    return int(status.split()[-1])
