"""The outbox relay: a long-lived task publishing committed outbox rows to JetStream.

It wakes on the schema's `NOTIFY` channel (sent at commit by every enqueue) and also polls
every `poll_interval` seconds, since notifications are lost while its listening connection is
down and retries fall due without any. The listening connection is held from the pool and
replaced when it drops. Each round is `publishing.relay_once`; database outages are logged
and retried at the next poll, publish failures are recorded on the rows. Sent rows older than
`retention` are deleted now and then.

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

from deis_shared.db import errors as db_errors, pool as db_pool
from deis_shared.outbox import outbox, publishing

if TYPE_CHECKING:
    from deis_shared.db.pool import Pool

logger = logging.getLogger(__name__)

relay_once = publishing.relay_once
"""One round: publish a batch of due rows, return how many were sent (for tests, benches)."""

Backoff = publishing.Backoff


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
        backoff: publishing.Backoff | None = None,
        clock: publishing.Clock = publishing.utc_now,
        retention: timedelta = timedelta(days=1),
        retention_interval: float = 600.0,
        close_timeout: float = 10.0,
    ) -> None:
        self.pool = pool
        self.js = js
        self.schema = db_pool.validate_schema_name(schema)
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.publish_timeout = publish_timeout
        self.backoff = backoff or publishing.Backoff()
        self.clock = clock
        self.retention = retention
        self.retention_interval = retention_interval
        self.close_timeout = close_timeout
        self.published = 0
        """Rows published since start."""
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
            published = await publishing.relay_once(
                self.pool,
                js=self.js,
                schema=self.schema,
                batch_size=self.batch_size,
                publish_timeout=self.publish_timeout,
                backoff=self.backoff,
                clock=self.clock,
            )
            await self._expire()
        except db_errors.DatabaseUnavailable as exc:
            logger.warning("outbox relay: database unavailable, retrying: %s", exc)
            return 0
        self.published += published
        return published

    async def _expire(self) -> None:
        if time.monotonic() < self._next_expiry:
            return
        self._next_expiry = time.monotonic() + self.retention_interval
        deleted = await publishing.delete_sent(
            self.pool, schema=self.schema, older_than=self.retention, clock=self.clock
        )
        if deleted:
            logger.info("outbox relay deleted %d sent rows", deleted)

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
    while published := await publishing.relay_once(
        pool, js=js, schema=schema, batch_size=batch_size
    ):
        total += published
    return total
