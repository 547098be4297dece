"""The asyncpg pool every service opens once, working in the service's own schema.

JSON and jsonb columns take and give Python values.

Each service owns one Postgres schema (docs/architecture.md: no service reads another's tables). The
pool sets `search_path` to `<schema>, public` as a startup parameter of every connection, so
unqualified SQL in the service and in shared code (the outbox) lands in that schema, and a
pool reset (`RESET ALL` on release) returns to it. The schema name goes into SQL text, so it
passes one named check, `validate_schema_name`, first.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from hashlib import sha256
from typing import TYPE_CHECKING, TypeAlias

import asyncpg
import asyncpg.pool

from deis_shared.db import errors

if TYPE_CHECKING:
    # asyncpg's classes are generic only in its stubs, so these aliases exist for the checker.
    Pool: TypeAlias = asyncpg.Pool[asyncpg.Record]
    """The pool type services pass around."""

    Connection: TypeAlias = (
        asyncpg.Connection[asyncpg.Record] | asyncpg.pool.PoolConnectionProxy[asyncpg.Record]
    )
    """A connection, bare or acquired from a pool."""

SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
"""Lower-case identifiers Postgres needs no quoting for, at most 63 bytes."""

DEFAULT_CLOSE_TIMEOUT = 10.0
"""Seconds `open_pool` waits for connections to be released before terminating them."""


def validate_schema_name(name: str) -> str:
    """Refuse a schema name that is not a plain lower-case identifier.

    This is the security boundary for schema names: they are interpolated into SQL.

    Args:
        name: The candidate schema name.

    Returns:
        `name`, unchanged.

    Raises:
        ValueError: If `name` does not match `^[a-z_][a-z0-9_]{0,62}$`.
    """
    if not isinstance(name, str) or SCHEMA_NAME.fullmatch(name) is None:
        raise ValueError(f"invalid schema name {name!r}: want {SCHEMA_NAME.pattern}")
    return name


def advisory_key(purpose: str, schema: str) -> int:
    """A stable signed 64-bit key for `pg_advisory_lock`, derived from purpose and schema.

    Args:
        purpose: What the lock guards (e.g. `migrate`).
        schema: The schema it guards it in.

    Returns:
        A key in the range of Postgres `bigint`.
    """
    digest = sha256(f"deis:{purpose}:{schema}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


async def _init_connection(conn: asyncpg.Connection[asyncpg.Record]) -> None:
    """Let dicts, lists and scalars go in and out of json/jsonb columns as Python values."""
    for type_name in ("json", "jsonb"):
        await conn.set_type_codec(
            type_name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
        )


async def ensure_schema(conn: Connection, *, schema: str) -> None:
    """Create `schema` unless it exists, safely against concurrent callers.

    `CREATE SCHEMA IF NOT EXISTS` alone can fail with a unique violation when two sessions run
    it at once, so it runs under a transaction-scoped advisory lock.

    Args:
        conn: A connection not inside a transaction of the caller's.
        schema: The schema to create.

    Raises:
        ValueError: If the schema name is invalid.
        DatabaseUnavailable: If PostgreSQL is away.
        DatabaseError: If the schema cannot be created (e.g. no privilege).
    """
    validate_schema_name(schema)
    with errors.mapped_errors():
        # A role that owns its schema but may not create schemas (deisctl's service roles)
        # must not be asked to: PostgreSQL checks that right before it looks for the schema.
        if await conn.fetchval("SELECT 1 FROM pg_namespace WHERE nspname = $1", schema):
            return
        async with conn.transaction():
            await conn.execute(
                "SELECT pg_advisory_xact_lock($1)", advisory_key("create-schema", schema)
            )
            await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')


async def create_pool(*, dsn: str, schema: str, min_size: int = 1, max_size: int = 10) -> Pool:
    """Open a pool whose connections work in `schema` (created if missing).

    Args:
        dsn: PostgreSQL URL, `postgresql://user@host:port/db`.
        schema: The service's schema; first on every connection's `search_path`.
        min_size: Connections kept open while idle.
        max_size: Connections opened at most.

    Returns:
        The open pool; the caller closes it (or uses `open_pool`).

    Raises:
        ValueError: If the schema name is invalid.
        DatabaseUnavailable: If PostgreSQL cannot be reached.
        DatabaseError: For other failures (bad credentials, no privilege to create the schema).
    """
    validate_schema_name(schema)
    with errors.mapped_errors():
        pool = await asyncpg.create_pool(
            dsn,
            min_size=min_size,
            max_size=max_size,
            init=_init_connection,
            server_settings={"search_path": f'"{schema}", public'},
        )
    try:
        with errors.mapped_errors():
            async with pool.acquire() as conn:
                await ensure_schema(conn, schema=schema)
    except BaseException:
        pool.terminate()
        raise
    return pool


async def close_pool(pool: Pool, *, grace: float = DEFAULT_CLOSE_TIMEOUT) -> None:
    """Close `pool` gracefully, terminating its connections if that takes over `grace`.

    Args:
        pool: The pool to close; closing a closed pool does nothing.
        grace: Seconds to wait for acquired connections to come back.
    """
    if pool.is_closing():
        return
    try:
        await asyncio.wait_for(pool.close(), timeout=grace)
    except (TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
        # A stuck or broken connection must not keep the service from exiting.
        pool.terminate()
    except BaseException:
        pool.terminate()
        raise


@asynccontextmanager
async def open_pool(
    *,
    dsn: str,
    schema: str,
    min_size: int = 1,
    max_size: int = 10,
    close_timeout: float = DEFAULT_CLOSE_TIMEOUT,
) -> AsyncIterator[Pool]:
    """`create_pool` as an async context manager that closes the pool on exit.

    Args:
        dsn: PostgreSQL URL.
        schema: The service's schema.
        min_size: Connections kept open while idle.
        max_size: Connections opened at most.
        close_timeout: Seconds to wait on exit before terminating connections.

    Yields:
        The open pool.

    Raises:
        ValueError: If the schema name is invalid.
        DatabaseUnavailable: If PostgreSQL cannot be reached.
        DatabaseError: For other failures opening the pool.
    """
    pool = await create_pool(dsn=dsn, schema=schema, min_size=min_size, max_size=max_size)
    try:
        yield pool
    finally:
        await close_pool(pool, grace=close_timeout)
