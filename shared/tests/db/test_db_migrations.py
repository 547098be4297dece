import asyncio
from pathlib import Path

import asyncpg
import pytest

from deis_shared.db import errors, migrations, pool as db_pool

HERE = Path(__file__).parent
OK = HERE / "migrations_ok"


def write(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


def test_load_from_path_sorts_and_checksums():
    loaded = migrations.load_migrations_from(OK)
    assert [(m.version, m.name) for m in loaded] == [
        (1, "create_things"),
        (2, "slow_add_colour"),
        (3, "seed"),
    ]
    assert loaded[0].checksum != loaded[1].checksum
    assert len(loaded[0].checksum) == 64


def test_load_from_package_reads_shipped_files():
    loaded = migrations.load_migrations("deis_shared.outbox")
    assert loaded[0].version == 1
    assert "outbox" in loaded[0].sql


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"0001_a.sql": "", "0003_c.sql": ""}, "gaps"),
        ({"0002_b.sql": ""}, "gaps"),
        ({"0001_a.sql": "", "0001_b.sql": ""}, "twice"),
        ({"0001_a.sql": "", "1_b.sql": ""}, "not named"),
        ({"0001_A.sql": ""}, "not named"),
    ],
)
def test_bad_sets_are_refused(tmp_path, files, message):
    with pytest.raises(errors.MigrationError, match=message):
        migrations.load_migrations_from(write(tmp_path / "m", files))


def test_non_sql_files_are_ignored(tmp_path):
    folder = write(tmp_path / "m", {"0001_a.sql": "SELECT 1", "README.md": "x", "__init__.py": ""})
    assert [m.version for m in migrations.load_migrations_from(folder)] == [1]


async def _versions(conn, schema, component="svc"):
    rows = await conn.fetch(
        f'SELECT version, name, checksum FROM "{schema}".schema_migrations '
        "WHERE component = $1 ORDER BY version",
        component,
    )
    return [(r["version"], r["name"], r["checksum"]) for r in rows]


async def test_applies_in_order_records_and_second_run_does_nothing(pg_dsn, unique):
    loaded = migrations.load_migrations_from(OK)
    async with db_pool.open_pool(dsn=pg_dsn, schema=unique, min_size=1, max_size=2) as pool:
        applied = await migrations.migrate(pool, schema=unique, component="svc", migrations=loaded)
        assert applied == [1, 2, 3]
        async with pool.acquire() as conn:
            assert await _versions(conn, unique) == [
                (m.version, m.name, m.checksum) for m in loaded
            ]
            # 0003 ran after 0002 added the column, in the schema, without naming it.
            assert await conn.fetch(f'SELECT name, colour FROM "{unique}".things') == [
                ("first", "red")
            ]
            again = await migrations.migrate(
                conn, schema=unique, component="svc", migrations=loaded
            )
            assert again == []
            assert await conn.fetchval(f'SELECT count(*) FROM "{unique}".things') == 1


async def test_components_share_a_schema(pg_dsn, unique):
    loaded = migrations.load_migrations_from(OK)
    other = [migrations.Migration(version=1, name="other", sql="CREATE TABLE other (x int)")]
    async with db_pool.open_pool(dsn=pg_dsn, schema=unique, min_size=1, max_size=2) as pool:
        assert await migrations.migrate(pool, schema=unique, component="a", migrations=loaded)
        assert await migrations.migrate(pool, schema=unique, component="b", migrations=other)
        async with pool.acquire() as conn:
            assert [v for v, _, _ in await _versions(conn, unique, "b")] == [1]
            assert [v for v, _, _ in await _versions(conn, unique, "a")] == [1, 2, 3]


async def test_concurrent_migrate_from_two_pools_applies_each_once(pg_dsn, unique):
    loaded = migrations.load_migrations_from(OK)
    async with (
        db_pool.open_pool(dsn=pg_dsn, schema=unique, min_size=1, max_size=2) as one,
        db_pool.open_pool(dsn=pg_dsn, schema=unique, min_size=1, max_size=2) as two,
    ):
        results = await asyncio.gather(
            migrations.migrate(one, schema=unique, component="svc", migrations=loaded),
            migrations.migrate(two, schema=unique, component="svc", migrations=loaded),
        )
        # One applied everything, the other waited for the lock and found nothing to do.
        assert sorted(results) == [[], [1, 2, 3]]
        async with one.acquire() as conn:
            assert [v for v, _, _ in await _versions(conn, unique)] == [1, 2, 3]
            # The seed migration ran exactly once.
            assert await conn.fetchval(f'SELECT count(*) FROM "{unique}".things') == 1


async def test_edited_migration_is_refused(pg_dsn, unique, tmp_path):
    folder = write(tmp_path / "m", {"0001_a.sql": "CREATE TABLE a (x int)"})
    async with db_pool.open_pool(dsn=pg_dsn, schema=unique, min_size=1, max_size=2) as pool:
        await migrations.migrate(
            pool, schema=unique, component="svc", migrations=migrations.load_migrations_from(folder)
        )
        write(
            folder, {"0001_a.sql": "CREATE TABLE a (x bigint)", "0002_b.sql": "CREATE TABLE b ()"}
        )
        with pytest.raises(errors.MigrationError, match="edited"):
            await migrations.migrate(
                pool,
                schema=unique,
                component="svc",
                migrations=migrations.load_migrations_from(folder),
            )
        async with pool.acquire() as conn:
            # Nothing after the edited one ran either.
            assert [v for v, _, _ in await _versions(conn, unique)] == [1]
            assert await conn.fetchval("SELECT to_regclass('b')") is None


async def test_database_newer_than_code_is_refused(pg_dsn, unique, tmp_path):
    both = [
        migrations.Migration(version=1, name="a", sql="CREATE TABLE a (x int)"),
        migrations.Migration(version=2, name="b", sql="CREATE TABLE b (x int)"),
    ]
    async with db_pool.open_pool(dsn=pg_dsn, schema=unique, min_size=1, max_size=2) as pool:
        await migrations.migrate(pool, schema=unique, component="svc", migrations=both)
        with pytest.raises(errors.MigrationError, match="older than the database"):
            await migrations.migrate(pool, schema=unique, component="svc", migrations=both[:1])


async def test_failing_migration_rolls_back_and_keeps_earlier_ones(pg_dsn, unique):
    sets = [
        migrations.Migration(version=1, name="a", sql="CREATE TABLE a (x int)"),
        migrations.Migration(
            version=2, name="bad", sql="CREATE TABLE half (x int); SELECT no_such_function()"
        ),
        migrations.Migration(version=3, name="c", sql="CREATE TABLE c (x int)"),
    ]
    async with db_pool.open_pool(dsn=pg_dsn, schema=unique, min_size=1, max_size=2) as pool:
        with pytest.raises(errors.MigrationError, match="bad") as caught:
            await migrations.migrate(pool, schema=unique, component="svc", migrations=sets)
        assert isinstance(caught.value.__cause__, asyncpg.UndefinedFunctionError)
        async with pool.acquire() as conn:
            assert [v for v, _, _ in await _versions(conn, unique)] == [1]
            assert await conn.fetchval("SELECT to_regclass('a')") is not None
            assert await conn.fetchval("SELECT to_regclass('half')") is None
            assert await conn.fetchval("SELECT to_regclass('c')") is None
            # The lock was released: another session can take it at once.
            key = db_pool.advisory_key("migrate", unique)
            assert await conn.fetchval("SELECT pg_try_advisory_lock($1)", key) is True
            await conn.execute("SELECT pg_advisory_unlock($1)", key)


async def test_migrate_on_a_bare_connection_leaves_its_search_path(pg_dsn, unique):
    conn = await asyncpg.connect(pg_dsn)
    try:
        applied = await migrations.migrate(
            conn, schema=unique, component="svc", migrations=migrations.load_migrations_from(OK)
        )
        assert applied == [1, 2, 3]
        assert await conn.fetchval("SELECT current_schema()") == "public"
        assert await conn.fetchval(f'SELECT count(*) FROM "{unique}".things') == 1
    finally:
        await conn.close()


async def test_invalid_names_are_refused_before_sql(pg_dsn):
    conn = await asyncpg.connect(pg_dsn)
    try:
        with pytest.raises(ValueError, match="schema"):
            await migrations.migrate(conn, schema="bad-name", component="svc", migrations=[])
        with pytest.raises(ValueError, match="component"):
            await migrations.migrate(conn, schema="good", component="", migrations=[])
    finally:
        await conn.close()
