"""Forward-only SQL migrations, recorded per component in the schema they build.

A migration is a file `NNNN_name.sql`; versions run 1, 2, 3... without gaps. `migrate`
applies the pending ones in order, each in its own transaction with `search_path` set to the
schema (so the SQL never names it), and records them in `<schema>.schema_migrations`. Several
components share one schema (a service's own tables and the outbox's), each with its own
version sequence.

Why an advisory lock: services and their replicas start at the same time and all call
`migrate`. A session-level `pg_advisory_lock` keyed by the schema makes them take turns; the
one that waited re-reads the record and finds nothing left to do.

Why checksums: an applied migration never runs again, so editing its file would silently
leave databases that ran the old text and new ones that ran the new text. An edited file, or
a version the database has but the code lacks (the code is older than the database), stops
start-up with `MigrationError`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from hashlib import sha256
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import asyncpg

from deis_shared.db import errors, pool as db_pool

if TYPE_CHECKING:
    from deis_shared.db.pool import Connection, Pool

FILE_NAME = re.compile(r"^(?P<version>\d{4})_(?P<name>[a-z0-9_]+)\.sql$")
"""A migration file name: four-digit version, underscore, lower-case name."""


@dataclass(frozen=True)
class Migration:
    """One forward-only SQL migration."""

    version: int
    """Position in its component's sequence, from 1."""

    name: str
    """The file name's descriptive part (`create_things`)."""

    sql: str
    """The statements, schema-agnostic: they run with `search_path` set to the schema."""

    @property
    def checksum(self) -> str:
        """SHA-256 of the SQL text, hex: what detects an edited migration."""
        return sha256(self.sql.encode()).hexdigest()


def parse_migrations(files: Iterable[tuple[str, str]]) -> list[Migration]:
    """Build the ordered migrations from `(file name, text)` pairs.

    Files not ending in `.sql` are ignored; `.sql` files with another name shape are refused,
    since a misnamed migration would otherwise never run.

    Args:
        files: File names and their contents.

    Returns:
        The migrations sorted by version.

    Raises:
        MigrationError: On a malformed name, a duplicate version, or a gap (versions must run
            1, 2, ... n).
    """
    by_version: dict[int, Migration] = {}
    for file_name, text in files:
        if not file_name.endswith(".sql"):
            continue
        match = FILE_NAME.fullmatch(file_name)
        if match is None:
            raise errors.MigrationError(
                f"migration file {file_name!r} is not named NNNN_lower_case_name.sql"
            )
        version = int(match["version"])
        if version in by_version:
            raise errors.MigrationError(
                f"migration version {version} appears twice "
                f"({by_version[version].name!r} and {match['name']!r})"
            )
        by_version[version] = Migration(version=version, name=match["name"], sql=text)
    expected = list(range(1, len(by_version) + 1))
    if sorted(by_version) != expected:
        missing = sorted(set(range(1, max(by_version, default=0) + 1)) - set(by_version))
        raise errors.MigrationError(f"migration versions have gaps: missing {missing}")
    return [by_version[v] for v in expected]


def load_migrations(package: str, *, directory: str = "migrations") -> list[Migration]:
    """Read the migrations shipped in `package`'s `directory` (via importlib.resources).

    Args:
        package: A dotted package name, e.g. `deis_shared.outbox`.
        directory: The folder inside the package holding the `.sql` files.

    Returns:
        The migrations sorted by version.

    Raises:
        MigrationError: If the folder is missing or its files are malformed (see
            `parse_migrations`).
    """
    folder = resources.files(package).joinpath(directory)
    if not folder.is_dir():
        raise errors.MigrationError(f"no migrations folder {directory!r} in {package}")
    return parse_migrations(
        (entry.name, entry.read_text(encoding="utf-8"))
        for entry in folder.iterdir()
        if entry.is_file()
    )


def load_migrations_from(path: Path) -> list[Migration]:
    """Read the migrations in a directory of the file system.

    Args:
        path: The directory holding the `.sql` files.

    Returns:
        The migrations sorted by version.

    Raises:
        MigrationError: If the directory is missing or its files are malformed.
    """
    if not path.is_dir():
        raise errors.MigrationError(f"no migrations directory {path}")
    return parse_migrations(
        (entry.name, entry.read_text(encoding="utf-8"))
        for entry in path.iterdir()
        if entry.is_file()
    )


async def migrate(
    pool_or_conn: Pool | Connection,
    *,
    schema: str,
    component: str,
    migrations: Sequence[Migration],
) -> list[int]:
    """Apply the pending migrations of `component` in `schema`, once across all callers.

    Args:
        pool_or_conn: Where to run; a connection must not be inside a transaction.
        schema: The schema the migrations build (created if missing).
        component: Whose sequence this is (`controller`, `outbox`): one schema may hold several.
        migrations: The component's migrations, as from `load_migrations`.

    Returns:
        The versions applied by this call, in order (empty when up to date).

    Raises:
        ValueError: If the schema or component name is invalid.
        MigrationError: If an applied migration was edited, the database has a version the
            code lacks, or a migration's SQL failed (it is rolled back; earlier ones stay).
        DatabaseUnavailable: If PostgreSQL is away.
    """
    db_pool.validate_schema_name(schema)
    if not component:
        raise ValueError("component must be a non-empty name")
    ordered = sorted(migrations, key=lambda m: m.version)
    if isinstance(pool_or_conn, asyncpg.Pool):
        with errors.mapped_errors():
            async with pool_or_conn.acquire() as conn:
                return await _migrate_locked(
                    conn, schema=schema, component=component, migrations=ordered
                )
    return await _migrate_locked(
        pool_or_conn, schema=schema, component=component, migrations=ordered
    )


async def _migrate_locked(
    conn: Connection, *, schema: str, component: str, migrations: list[Migration]
) -> list[int]:
    """Hold the schema's migration lock while checking and applying."""
    key = db_pool.advisory_key("migrate", schema)
    await db_pool.ensure_schema(conn, schema=schema)
    with errors.mapped_errors():
        await conn.execute("SELECT pg_advisory_lock($1)", key)
        try:
            return await _apply(conn, schema=schema, component=component, migrations=migrations)
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", key)


async def _apply(
    conn: Connection, *, schema: str, component: str, migrations: list[Migration]
) -> list[int]:
    """Check the record against the code, then apply what is pending."""
    table = f'"{schema}".schema_migrations'
    await conn.execute(
        f"""CREATE TABLE IF NOT EXISTS {table} (
            component text NOT NULL,
            version integer NOT NULL,
            name text NOT NULL,
            checksum text NOT NULL,
            applied_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (component, version)
        )"""
    )
    rows = await conn.fetch(
        f"SELECT version, name, checksum FROM {table} WHERE component = $1 ORDER BY version",
        component,
    )
    known = {m.version: m for m in migrations}
    applied: set[int] = set()
    for row in rows:
        version: int = row["version"]
        migration = known.get(version)
        if migration is None:
            raise errors.MigrationError(
                f"{schema}: {component} migration {version} ({row['name']}) is applied in the "
                "database but missing from the code: the code is older than the database"
            )
        if migration.checksum != row["checksum"]:
            raise errors.MigrationError(
                f"{schema}: {component} migration {version} ({migration.name}) was edited "
                "after it was applied; add a new migration instead"
            )
        applied.add(version)
    done: list[int] = []
    for migration in migrations:
        if migration.version in applied:
            continue
        await _apply_one(conn, schema=schema, component=component, migration=migration)
        done.append(migration.version)
    return done


async def _apply_one(
    conn: Connection, *, schema: str, component: str, migration: Migration
) -> None:
    """Run one migration and record it in the same transaction."""
    try:
        async with conn.transaction():
            await conn.execute(f'SET LOCAL search_path TO "{schema}", public')
            await conn.execute(migration.sql)
            await conn.execute(
                f'INSERT INTO "{schema}".schema_migrations (component, version, name, checksum) '
                "VALUES ($1, $2, $3, $4)",
                component,
                migration.version,
                migration.name,
                migration.checksum,
            )
    except asyncpg.PostgresError as exc:
        if errors.is_transient(exc):
            raise
        raise errors.MigrationError(
            f"{schema}: {component} migration {migration.version} ({migration.name}) failed: {exc}"
        ) from exc
