"""Errors of the database boundary, and the one place asyncpg's exceptions are mapped to them.

    DeisError
    └── DatabaseError                       any failure talking to PostgreSQL
        ├── DatabaseUnavailable (+TransientError)
        │       connection refused or lost, too many connections, server shutting down,
        │       serialization failure, deadlock, lock not available: retry with backoff
        └── MigrationError (+PermanentError)
                a migration file is malformed, edited after it was applied, missing from the
                code while the database has it, or its SQL failed

Everything else asyncpg raises (a constraint violation, bad SQL) becomes a plain
`DatabaseError`: retrying the same statement cannot help, and the caller usually maps it to
its own domain error first.
"""

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

import asyncpg

from deis_shared.errors import DeisError, PermanentError, TransientError


class DatabaseError(DeisError):
    """A failure talking to PostgreSQL."""


class DatabaseUnavailable(DatabaseError, TransientError):
    """PostgreSQL is away, overloaded, or asked us to retry the transaction."""


class MigrationError(DatabaseError, PermanentError):
    """The migrations in the code and those recorded in the database do not agree."""


TRANSIENT_ASYNCPG_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.PostgresConnectionError,  # SQLSTATE class 08
    asyncpg.InterfaceError,  # e.g. "connection is closed"
    asyncpg.TooManyConnectionsError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.SerializationError,
    asyncpg.DeadlockDetectedError,
    asyncpg.LockNotAvailableError,
    OSError,  # connection refused, reset, unreachable
    asyncio.TimeoutError,  # connect or command timeout
)
"""asyncpg (and socket) exceptions that a later attempt may not meet."""

ASYNCPG_ERRORS: tuple[type[BaseException], ...] = (asyncpg.PostgresError, *TRANSIENT_ASYNCPG_ERRORS)
"""Everything `mapped_errors` translates."""


def is_transient(exc: BaseException) -> bool:
    """Whether retrying what raised `exc` may succeed.

    Args:
        exc: An exception raised by asyncpg or the socket layer under it.

    Returns:
        True for connection failures, overload, serialization failures and deadlocks.
    """
    return isinstance(exc, TRANSIENT_ASYNCPG_ERRORS)


def from_asyncpg(exc: BaseException) -> DatabaseError:
    """Translate one asyncpg (or socket) exception into this module's tree.

    Args:
        exc: The exception to translate; the caller raises the result `from exc`.

    Returns:
        `DatabaseUnavailable` for transient failures, else `DatabaseError`.
    """
    if isinstance(exc, DatabaseError):
        return exc
    if is_transient(exc):
        return DatabaseUnavailable(f"database unavailable: {exc!r}")
    return DatabaseError(f"database error: {exc!r}")


@contextmanager
def mapped_errors() -> Iterator[None]:
    """Re-raise asyncpg and socket exceptions raised inside the block as `DatabaseError`s.

    Usable around awaits (`with errors.mapped_errors(): await conn.execute(...)`).

    Raises:
        DatabaseUnavailable: For transient failures.
        DatabaseError: For every other asyncpg failure.
    """
    try:
        yield
    except DatabaseError:
        raise
    except ASYNCPG_ERRORS as exc:
        raise from_asyncpg(exc) from exc
