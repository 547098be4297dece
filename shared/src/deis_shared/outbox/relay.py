"""The outbox relay: a long-lived task publishing committed outbox rows to JetStream.

It wakes on the schema's `NOTIFY` channel (sent at commit by every enqueue) and also polls
every `poll_interval` seconds, since notifications are lost while its listening connection is
down and retries fall due without any. The listening connection is held from the pool and
replaced when it drops. Each round is `rounds.relay_round`; database outages are logged
and retried at the next poll, publish failures are recorded on the rows. A row that cannot be
published (larger than the server's `max_payload`, or rejected `max_attempts` times) is set
aside as dead (`dead`): it no longer holds back the later rows of its KV key, the optional
`on_dead` hook is awaited in the transaction that marks it, an ERROR line is logged and the
`deis_outbox_dead_rows_total` counter goes up. Sent rows older than `retention` and dead rows
older than `dead_retention` are deleted now and then (`retention`).

Any service may run a relay, and several replicas may run one on the same table: rounds
claim rows with `FOR UPDATE SKIP LOCKED`.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import asyncpg
from nats.js import JetStreamContext
from prometheus_client import CollectorRegistry, Counter

from deis_shared.db import errors as db_errors, pool as db_pool
from deis_shared.outbox import dead, outbox, retention as outbox_retention, rounds

if TYPE_CHECKING:
    from deis_shared.db.pool import Pool

logger = logging.getLogger(__name__)

relay_once = rounds.relay_once
"""One round: publish a batch of due rows, return how many were sent (for tests, benches)."""

Backoff = rounds.Backoff


class RelayState(enum.Enum):
    """Where an `OutboxRelay` is in its life."""

    NEW = "new"
    RUNNING = "running"
    CLOSING = "closing"
    CLOSED = "closed"


class OutboxRelay:
    """Publishes a schema's outbox until closed. Call `run()` once, `close()` any time."""

    def __init__(
        self,
        *,
        pool: Pool,
        js: JetStreamContext,
        schema: str,
        batch_size: int = 100,
        poll_interval: float = 1.0,
        publish_timeout: float = 5.0,
        backoff: rounds.Backoff | None = None,
        clock: rounds.Clock = rounds.utc_now,
        retention: timedelta = timedelta(days=1),
        dead_retention: timedelta = timedelta(days=7),
        retention_interval: float = 600.0,
        close_timeout: float = 10.0,
        max_attempts: int = dead.DEFAULT_MAX_ATTEMPTS,
        on_dead: dead.DeadHook | None = None,
        registry: CollectorRegistry | None = None,
    ) -> None:
        """Describe the relay; nothing runs until `run()`.

        Args:
            pool: A pool on the database holding `<schema>.outbox`.
            js: The JetStream context to publish with.
            schema: The schema of the outbox table.
            batch_size: Rows per round at most.
            poll_interval: Seconds between rounds when no notification comes.
            publish_timeout: Seconds to wait for each publish acknowledgement.
            backoff: Retry delays for failed rows.
            clock: The time rows are compared with and stamped with.
            retention: How long sent rows are kept.
            dead_retention: How long dead rows are kept for inspection.
            retention_interval: Seconds between two deletions of old rows.
            close_timeout: Seconds `close()` waits for the round in flight.
            max_attempts: Rejections (failures that were the row's own fault, not NATS being
                away) after which a row is set aside as dead.
            on_dead: Awaited for each dead row, with the connection of the transaction that
                marks it dead (what it writes commits with the mark); a failure is logged.
            registry: Where to register `deis_outbox_dead_rows_total`; none means a private
                registry (the counter still counts, nobody scrapes it).
        """
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.pool = pool
        self.js = js
        self.schema = db_pool.validate_schema_name(schema)
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.publish_timeout = publish_timeout
        self.backoff = backoff or rounds.Backoff()
        self.clock = clock
        self.retention = retention
        self.dead_retention = dead_retention
        self.retention_interval = retention_interval
        self.close_timeout = close_timeout
        self.max_attempts = max_attempts
        self.on_dead = on_dead
        self.published = 0
        """Rows published since start."""
        self.dead = 0
        """Rows set aside as dead since start."""
        self._dead_counter = Counter(
            "deis_outbox_dead_rows",
            "Outbox rows set aside as dead: they could not be published and never will be",
            ["kind", "bucket"],
            registry=registry if registry is not None else CollectorRegistry(),
        )
        self._state = RelayState.NEW
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._done = asyncio.Event()
        self._task: asyncio.Task[Any] | None = None
        self._listen_conn: Any = None
        self._next_expiry = 0.0

    @property
    def state(self) -> RelayState:
        """The relay's current state."""
        return self._state

    @property
    def channel(self) -> str:
        """The notify channel this relay listens on."""
        return outbox.channel_name(self.schema)

    @property
    def listening(self) -> bool:
        """Whether a connection is currently listening for notifications."""
        if self._listen_conn is None:
            return False
        try:
            return not self._listen_conn.is_closed()
        except asyncpg.InterfaceError:  # released by a pool that was terminated under us
            return False

    async def run(self) -> None:
        """Publish rows until `close()`; returns at once if closed before it started.

        Raises:
            RuntimeError: If called a second time.
        """
        if self._state is RelayState.CLOSED:
            return
        if self._state is not RelayState.NEW:
            raise RuntimeError(f"OutboxRelay.run() called in state {self._state.value}")
        self._state = RelayState.RUNNING
        self._task = asyncio.current_task()
        try:
            while not self._stopping.is_set():
                await self._ensure_listening()
                self._wake.clear()
                published = await self._round()
                if published >= self.batch_size:
                    await asyncio.sleep(0)  # more is waiting: go again, but let others run
                    continue
                await self._sleep()
        finally:
            await self._stop_listening()
            self._state = RelayState.CLOSED
            self._done.set()

    async def close(self) -> None:
        """Stop the relay: finish the round in flight, else cancel after `close_timeout`.

        Idempotent, and safe before `run()` (which then returns at once).
        """
        if self._state in (RelayState.NEW, RelayState.CLOSED):
            self._state = RelayState.CLOSED
            self._done.set()
            return
        self._state = RelayState.CLOSING
        self._stopping.set()
        self._wake.set()
        task = self._task
        if task is None or task is asyncio.current_task():
            return
        try:
            await asyncio.wait_for(asyncio.shield(self._done.wait()), self.close_timeout)
        except TimeoutError:
            logger.warning("outbox relay did not stop in %.1fs: cancelling", self.close_timeout)
            task.cancel()
            await self._done.wait()

    async def _round(self) -> int:
        try:
            done = await rounds.relay_round(
                self.pool,
                js=self.js,
                schema=self.schema,
                batch_size=self.batch_size,
                publish_timeout=self.publish_timeout,
                backoff=self.backoff,
                max_attempts=self.max_attempts,
                clock=self.clock,
                on_dead=self.on_dead,
            )
        except db_errors.DatabaseUnavailable as exc:
            logger.warning("outbox relay: database unavailable, retrying: %s", exc)
            return 0
        self.published += done.published
        self.dead += len(done.dead)
        for row in done.dead:
            self._dead_counter.labels(row.kind, row.bucket or "").inc()
        try:
            await self._expire()
        except db_errors.DatabaseUnavailable as exc:
            logger.warning("outbox relay: database unavailable, retrying: %s", exc)
        return done.published

    async def _expire(self) -> None:
        if time.monotonic() < self._next_expiry:
            return
        self._next_expiry = time.monotonic() + self.retention_interval
        deleted = await outbox_retention.delete_sent(
            self.pool, schema=self.schema, older_than=self.retention, clock=self.clock
        )
        if deleted:
            logger.info("outbox relay deleted %d sent rows", deleted)
        deleted = await outbox_retention.delete_dead(
            self.pool, schema=self.schema, older_than=self.dead_retention, clock=self.clock
        )
        if deleted:
            logger.info("outbox relay deleted %d dead rows", deleted)

    async def _sleep(self) -> None:
        # On timeout, this is the poll: look again even without a notification.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), self.poll_interval)

    def _on_notify(self, *_args: object) -> None:
        self._wake.set()

    def _on_terminated(self, *_args: object) -> None:
        self._wake.set()  # go round again, which re-listens

    async def _ensure_listening(self) -> None:
        if self.listening:
            return
        await self._stop_listening()
        try:
            conn = await self.pool.acquire()
        except db_errors.ASYNCPG_ERRORS as exc:
            logger.warning("outbox relay cannot listen, polling instead: %r", exc)
            return
        self._listen_conn = conn
        try:
            await conn.add_listener(self.channel, self._on_notify)
            conn.add_termination_listener(self._on_terminated)
        except db_errors.ASYNCPG_ERRORS as exc:
            logger.warning("outbox relay cannot listen, polling instead: %r", exc)
            await self._stop_listening()

    async def _stop_listening(self) -> None:
        conn, self._listen_conn = self._listen_conn, None
        if conn is None:
            return
        try:
            closed = conn.is_closed()
        except asyncpg.InterfaceError:
            return  # a lost connection cleans up and returns itself to the pool
        try:
            if not closed:
                conn.remove_termination_listener(self._on_terminated)
                await conn.remove_listener(self.channel, self._on_notify)
            await asyncio.wait_for(self.pool.release(conn), self.close_timeout)
        except db_errors.ASYNCPG_ERRORS:
            # A broken listening connection is of no further use: drop it if still ours.
            with contextlib.suppress(asyncpg.InterfaceError):
                conn.terminate()


async def drain(pool: Pool, *, js: JetStreamContext, schema: str, batch_size: int = 500) -> int:
    """Run rounds until no due row is left; for tests and benchmarks.

    Args:
        pool: A pool on the database holding the outbox.
        js: The JetStream context to publish with.
        schema: The schema of the outbox table.
        batch_size: Rows per round.

    Returns:
        The number of rows published.
    """
    total = 0
    while published := await rounds.relay_once(pool, js=js, schema=schema, batch_size=batch_size):
        total += published
    return total
