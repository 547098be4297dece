"""The outbox table, shipped as migrations of component `outbox` in each service's schema.

The SQL lives in `migrations/` beside this module; services apply it with `migrate_outbox`
(or pass `OUTBOX_MIGRATIONS` to `deis_shared.db.migrations.migrate` themselves).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from deis_shared.db import migrations

if TYPE_CHECKING:
    from deis_shared.db.pool import Connection, Pool

COMPONENT = "outbox"
"""The component name the outbox's migrations are recorded under."""

OUTBOX_MIGRATIONS: list[migrations.Migration] = migrations.load_migrations("deis_shared.outbox")
"""The outbox table's migrations, in order."""


async def migrate_outbox(pool_or_conn: Pool | Connection, *, schema: str) -> list[int]:
    """Create or upgrade the outbox table in `schema`.

    Args:
        pool_or_conn: A pool or a connection outside any transaction.
        schema: The service's schema.

    Returns:
        The versions applied by this call.

    Raises:
        MigrationError: If the database and the shipped migrations disagree.
        DatabaseUnavailable: If PostgreSQL is away.
    """
    return await migrations.migrate(
        pool_or_conn, schema=schema, component=COMPONENT, migrations=OUTBOX_MIGRATIONS
    )
