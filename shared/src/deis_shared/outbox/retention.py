"""Retention: sent and dead outbox rows are kept for inspection, then deleted.

Sent rows matter only until JetStream's duplicate window has passed and someone who wants to
see what went out has looked: the relay keeps them a day by default. Dead rows are kept
longer (a week by default): each stands for a change that never reached its readers, and its
payload and `last_error` are what an operator needs to find out why.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal

from deis_shared.db import errors as db_errors, pool as db_pool
from deis_shared.outbox import rounds

if TYPE_CHECKING:
    from deis_shared.db.pool import Pool


async def delete_sent(
    pool: Pool, *, schema: str, older_than: timedelta, clock: rounds.Clock = rounds.utc_now
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
    return await _delete(pool, schema=schema, column="sent_at", before=clock() - older_than)


async def delete_dead(
    pool: Pool, *, schema: str, older_than: timedelta, clock: rounds.Clock = rounds.utc_now
) -> int:
    """Delete rows set aside as dead more than `older_than` ago.

    Arguments, result and errors as `delete_sent`'s.
    """
    return await _delete(pool, schema=schema, column="dead_at", before=clock() - older_than)


async def _delete(
    pool: Pool, *, schema: str, column: Literal["sent_at", "dead_at"], before: datetime
) -> int:
    table = f'"{db_pool.validate_schema_name(schema)}".outbox'
    with db_errors.mapped_errors():
        status = await pool.execute(
            f"DELETE FROM {table} WHERE {column} IS NOT NULL AND {column} < $1", before
        )
    return int(status.split()[-1])
