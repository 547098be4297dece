import uuid

import asyncpg
import pytest
from pydantic import BaseModel

from deis_shared import appnames
from deis_shared.db import migrations, pool as db_pool
from deis_shared.kv import challenges as challenges_kv, routes as routes_kv
from deis_shared.outbox import errors, outbox, schema as outbox_schema


class Created(BaseModel):
    id: uuid.UUID
    app: str


@pytest.fixture
async def pool(pg_dsn, unique):
    async with db_pool.open_pool(dsn=pg_dsn, schema=unique, min_size=1, max_size=4) as pool:
        assert await outbox_schema.migrate_outbox(pool, schema=unique) == [1, 2]
        yield pool


def test_outbox_migrations_ship_with_the_package():
    assert [m.version for m in outbox_schema.OUTBOX_MIGRATIONS] == [1, 2]
    assert migrations.load_migrations("deis_shared.outbox") == outbox_schema.OUTBOX_MIGRATIONS
    assert "FOR UPDATE" not in outbox_schema.OUTBOX_MIGRATIONS[0].sql
    assert "CREATE TABLE outbox" in outbox_schema.OUTBOX_MIGRATIONS[0].sql


async def test_outbox_migration_is_idempotent(pool, unique):
    assert await outbox_schema.migrate_outbox(pool, schema=unique) == []


async def test_enqueue_refuses_outside_a_transaction(pool):
    async with pool.acquire() as conn:
        with pytest.raises(errors.NotInTransaction):
            await outbox.enqueue_event(conn, subject="a.b", message=b"x")
        with pytest.raises(errors.NotInTransaction):
            await outbox.enqueue_kv_put(conn, bucket="b", key="k", value=b"x")
        with pytest.raises(errors.NotInTransaction):
            await outbox.enqueue_kv_delete(conn, bucket="b", key="k")
        assert await conn.fetchval("SELECT count(*) FROM outbox") == 0


async def test_enqueue_writes_rows_that_roll_back_with_the_transaction(pool):
    event = Created(id=uuid.uuid4(), app="web")
    async with pool.acquire() as conn:
        async with conn.transaction():
            row_id = await outbox.enqueue_event(
                conn, subject="deis.events.x", message=event, headers={"A": "1"}
            )
            put_id = await outbox.enqueue_kv_put(conn, bucket="desired", key="web", value=event)
            del_id = await outbox.enqueue_kv_delete(conn, bucket="desired", key="old.app")
        assert row_id == event.id  # the model's own id is the Nats-Msg-Id
        rows = await conn.fetch(
            "SELECT id, kind, subject, bucket, key, payload, headers, attempts, sent_at "
            "FROM outbox ORDER BY seq"
        )
        assert [r["id"] for r in rows] == [row_id, put_id, del_id]
        assert [r["kind"] for r in rows] == ["event", "kv_put", "kv_delete"]
        assert Created.model_validate_json(rows[0]["payload"]) == event
        assert rows[0]["headers"] == {"A": "1"}
        assert (rows[1]["bucket"], rows[1]["key"]) == ("desired", "web")
        assert rows[2]["payload"] == b""
        assert all(r["sent_at"] is None and r["attempts"] == 0 for r in rows)

        tr = conn.transaction()
        await tr.start()
        await outbox.enqueue_event(conn, subject="deis.events.y", message=b"gone")
        await tr.rollback()
        assert await conn.fetchval("SELECT count(*) FROM outbox") == 3


async def test_explicit_msg_id_wins_and_duplicates_are_refused(pool):
    chosen = uuid.uuid4()
    async with pool.acquire() as conn:
        async with conn.transaction():
            got = await outbox.enqueue_event(
                conn, subject="a.b", message=Created(id=uuid.uuid4(), app="x"), msg_id=chosen
            )
        assert got == chosen
        with pytest.raises(Exception) as caught:  # noqa: PT011  # checked below
            async with conn.transaction():
                await outbox.enqueue_event(conn, subject="a.b", message=b"x", msg_id=chosen)
        assert isinstance(caught.value.__cause__, asyncpg.UniqueViolationError)


async def test_commit_notifies_the_schema_channel(pool, unique):
    heard: list[str] = []

    def hear(*args):
        heard.append(args[2])

    async with pool.acquire() as listener, pool.acquire() as conn:
        await listener.add_listener(outbox.channel_name(unique), hear)
        try:
            async with conn.transaction():
                await outbox.enqueue_event(conn, subject="a.b", message=b"x")
                await listener.execute("SELECT 1")
                assert heard == []  # not before commit
            await listener.execute("SELECT pg_sleep(0.01)")
            assert heard == [outbox.channel_name(unique)]
        finally:
            await listener.remove_listener(outbox.channel_name(unique), hear)


@pytest.mark.parametrize("subject", ["", "a..b", "a.*", "a.>", "a b", ".a", "a."])
async def test_bad_subjects_are_refused(pool, subject):
    async with pool.acquire() as conn, conn.transaction():
        with pytest.raises(ValueError, match="subject"):
            await outbox.enqueue_event(conn, subject=subject, message=b"x")


@pytest.mark.parametrize(
    ("bucket", "key"), [("a.b", "k"), ("", "k"), ("b", ""), ("b", "a b"), ("b", "a*"), ("b", ".k")]
)
async def test_bad_kv_names_are_refused(pool, bucket, key):
    async with pool.acquire() as conn, conn.transaction():
        with pytest.raises(ValueError, match="KV"):
            await outbox.enqueue_kv_put(conn, bucket=bucket, key=key, value=b"x")


def test_channel_names_fit_postgres_identifiers():
    assert outbox.channel_name("controller") == "outbox_controller"
    assert len(outbox.channel_name("a" * 63)) == 63


async def test_a_message_larger_than_the_bus_carries_is_refused_before_commit(pool):
    async with pool.acquire() as conn:
        with pytest.raises(errors.TooLarge) as refused:
            async with conn.transaction():
                await outbox.enqueue_kv_put(
                    conn, bucket="b", key="k", value=b"x" * 1025, max_payload=1024
                )
        assert (refused.value.size, refused.value.limit) == (1025, 1024)
        with pytest.raises(errors.TooLarge):
            async with conn.transaction():
                await outbox.enqueue_event(conn, subject="a.b", message=b"x" * 2, max_payload=1)
        async with conn.transaction():
            await outbox.enqueue_kv_put(
                conn, bucket="b", key="k", value=b"x" * 1024, max_payload=1024
            )
        assert await conn.fetchval("SELECT count(*) FROM outbox") == 1


async def test_typed_puts_and_deletes_take_the_buckets_key_rule_and_model(pool):
    challenge = challenges_kv.Challenge(
        token="t" * 22, key_authorization="t" * 22 + ".thumb", app="web", domain="web.example.com"
    )
    routes = routes_kv.Routes(
        app="web",
        default_domain="web.example.com",
        domains=[],
        https_enforced=False,
        maintenance=False,
        routable=True,
    )
    async with pool.acquire() as conn:
        async with conn.transaction():
            await outbox.enqueue_put(conn, routes_kv.SPEC, "web", routes)
            await outbox.enqueue_put(conn, challenges_kv.SPEC, "t" * 22, challenge)
            await outbox.enqueue_delete(conn, routes_kv.SPEC, "gone")
            for hostile in ("Web", "web.evil", "web>", "", "-web"):
                with pytest.raises(appnames.InvalidAppName):
                    await outbox.enqueue_put(conn, routes_kv.SPEC, hostile, routes)
                with pytest.raises(appnames.InvalidAppName):
                    await outbox.enqueue_delete(conn, routes_kv.SPEC, hostile)
            with pytest.raises(TypeError):
                await outbox.enqueue_put(conn, routes_kv.SPEC, "web", challenge)  # type: ignore[misc]
        rows = await conn.fetch("SELECT kind, bucket, key, payload FROM outbox ORDER BY seq")
    assert [(r["kind"], r["bucket"], r["key"]) for r in rows] == [
        ("kv_put", "routes", "web"),
        ("kv_put", "challenges", "t" * 22),
        ("kv_delete", "routes", "gone"),
    ]
    assert routes_kv.Routes.model_validate_json(rows[0]["payload"]) == routes
