"""One push at a time per app, with a lock that a crashed builder cannot leave behind.

The lock is a PostgreSQL session advisory lock, held on a connection taken from the pool for
the push. If the builder dies, its connection closes and the server releases the lock, so the
Deis complaint "Another git push is ongoing" after a crash cannot happen; it also holds across
builder replicas sharing one database. A second push polls for the lock, telling its user once
that it waits, and gives up after `wait` seconds.
"""

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg

from deis_builder.errors import PushBusy
from deis_shared.db import errors as db_errors, pool as db_pool

POLL = 0.2
"""Seconds between attempts while another push holds the lock."""


@contextlib.asynccontextmanager
async def push_lock(
    pool: asyncpg.Pool,
    *,
    app: str,
    wait: float,
    on_wait: Callable[[], Awaitable[None]],
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> AsyncIterator[None]:
    """Hold `app`'s push lock for the body of the `async with`.

    Args:
        pool: The builder's pool; one connection is held for the duration.
        app: The app being pushed to.
        wait: Seconds to wait for another push to finish.
        on_wait: Called once when the lock is busy, to tell the user.
        sleep: How to wait between attempts (tests pass a virtual clock's).

    Raises:
        PushBusy: Another push still holds the lock after `wait` seconds.
        DatabaseUnavailable: PostgreSQL is away.
    """
    key = db_pool.advisory_key("push", app)
    deadline = time.monotonic() + wait
    with db_errors.mapped_errors():
        async with pool.acquire() as conn:
            told = False
            while not await conn.fetchval("SELECT pg_try_advisory_lock($1)", key):
                if time.monotonic() >= deadline:
                    raise PushBusy(
                        f"another push to {app} is still running after {wait:.0f} s; "
                        "try again when it is done"
                    )
                if not told:
                    told = True
                    await on_wait()
                await sleep(POLL)
            try:
                yield
            finally:
                # If the connection broke, the lock went with it; the pool discards it.
                with contextlib.suppress(*db_errors.ASYNCPG_ERRORS):
                    await conn.execute("SELECT pg_advisory_unlock($1)", key)
