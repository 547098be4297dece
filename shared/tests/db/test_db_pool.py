import asyncio

import asyncpg
import pytest

from deis_shared.db import errors, pool as db_pool


@pytest.mark.parametrize("name", ["controller", "_x", "a1_b2", "a" * 63])
def test_valid_schema_names_pass(name):
    assert db_pool.validate_schema_name(name) == name


@pytest.mark.parametrize(
    "name",
    ["", "1abc", "Controller", "a-b", 'x"; DROP SCHEMA public; --', "a b", "a" * 64, "é"],
)
def test_hostile_schema_names_are_refused(name):
    with pytest.raises(ValueError, match="invalid schema name"):
        db_pool.validate_schema_name(name)


async def test_pool_works_in_its_schema_and_maps_json(pg_dsn, unique):
    async with db_pool.open_pool(dsn=pg_dsn, schema=unique, min_size=1, max_size=2) as pool:
        async with pool.acquire() as conn:
            assert await conn.fetchval("SELECT current_schema()") == unique
            await conn.execute("CREATE TABLE docs (body jsonb, raw json)")
            await conn.execute(
                "INSERT INTO docs VALUES ($1, $2)", {"a": [1, 2], "b": None}, {"c": "d"}
            )
            row = await conn.fetchrow("SELECT body, raw FROM docs")
            assert row is not None
            assert row["body"] == {"a": [1, 2], "b": None}
            assert row["raw"] == {"c": "d"}
            # The table landed in the service's schema, not in public.
            where = await conn.fetchval(
                "SELECT table_schema FROM information_schema.tables WHERE table_name = 'docs'"
            )
            assert where == unique
        # A pool reset (RESET ALL on release) keeps the schema on the search path.
        async with pool.acquire() as conn:
            await conn.execute("SET search_path TO public")
        async with pool.acquire() as conn:
            assert await conn.fetchval("SELECT current_schema()") == unique
    assert pool.is_closing()


async def test_concurrent_pools_create_the_schema_once(pg_dsn, unique):
    pools = await asyncio.gather(
        *(db_pool.create_pool(dsn=pg_dsn, schema=unique, min_size=1, max_size=1) for _ in range(4))
    )
    try:
        count = await pools[0].fetchval(
            "SELECT count(*) FROM pg_namespace WHERE nspname = $1", unique
        )
        assert count == 1
    finally:
        for pool in pools:
            await db_pool.close_pool(pool)


async def test_close_pool_terminates_a_held_connection_after_the_grace(pg_dsn, unique):
    pool = await db_pool.create_pool(dsn=pg_dsn, schema=unique, min_size=1, max_size=1)
    conn = await pool.acquire()
    began = asyncio.get_running_loop().time()
    await db_pool.close_pool(pool, grace=0.05)  # would wait forever for `conn` without terminate
    assert asyncio.get_running_loop().time() - began < 2
    assert pool.is_closing()
    with pytest.raises(asyncpg.InterfaceError):
        await conn.fetchval("SELECT 1")
    await db_pool.close_pool(pool)  # closing twice is harmless


async def test_unreachable_database_is_transient(postgres_server):
    # A port nobody listens on: connection refused.
    dsn = f"postgresql://postgres@127.0.0.1:{_closed_port()}/postgres"
    with pytest.raises(errors.DatabaseUnavailable) as caught:
        await db_pool.create_pool(dsn=dsn, schema="x", min_size=1, max_size=1)
    assert isinstance(caught.value.__cause__, OSError)


async def test_missing_database_is_a_plain_database_error(postgres_server, unique):
    with pytest.raises(errors.DatabaseError) as caught:
        await db_pool.create_pool(
            dsn=postgres_server.dsn(f"nodb_{unique}"), schema="x", min_size=1, max_size=1
        )
    assert not isinstance(caught.value, errors.DatabaseUnavailable)
    assert isinstance(caught.value.__cause__, asyncpg.InvalidCatalogNameError)


def test_error_mapping():
    assert isinstance(errors.from_asyncpg(asyncpg.SerializationError()), errors.DatabaseUnavailable)
    assert isinstance(
        errors.from_asyncpg(asyncpg.DeadlockDetectedError()), errors.DatabaseUnavailable
    )
    assert isinstance(
        errors.from_asyncpg(asyncpg.TooManyConnectionsError()), errors.DatabaseUnavailable
    )
    assert isinstance(errors.from_asyncpg(ConnectionRefusedError()), errors.DatabaseUnavailable)
    plain = errors.from_asyncpg(asyncpg.UniqueViolationError())
    assert type(plain) is errors.DatabaseError
    with pytest.raises(errors.DatabaseUnavailable) as caught, errors.mapped_errors():
        raise asyncpg.DeadlockDetectedError()
    assert isinstance(caught.value.__cause__, asyncpg.DeadlockDetectedError)


def _closed_port() -> int:
    from deis_testing import free_port

    return free_port()
