"""Apps: list, create, show, transfer, destroy (docs/api.md §2.2, §3.2).

Creating an app also creates release v1, its settings and TLS rows and its default domain.
"""

import secrets
import uuid
from typing import Any

import asyncpg

from deis_controller import errors
from deis_controller.domain import appids
from deis_controller.usecases import access, state
from deis_controller.usecases.context import Context
from deis_controller.usecases.records import APP_COLUMNS, App, AppAccess, User
from deis_shared.events import release as release_events
from deis_shared.outbox import outbox

_VISIBLE = """
FROM apps a JOIN users o ON o.id = a.owner_id
WHERE $1 OR a.owner_id = $2
   OR EXISTS (SELECT 1 FROM app_perms p WHERE p.app_uuid = a.uuid AND p.user_id = $2)
"""

GENERATE_ATTEMPTS = 20
"""Generated names tried before giving up (there are thousands of combinations)."""


async def list_apps(
    conn: asyncpg.Connection, *, user: User, limit: int, offset: int
) -> tuple[int, list[App]]:
    """One page of the apps `user` may use (all of them for an admin), by id."""
    count = await conn.fetchval(f"SELECT count(*) {_VISIBLE}", user.is_superuser, user.id)
    rows = await conn.fetch(
        f"SELECT {APP_COLUMNS} {_VISIBLE} ORDER BY a.id LIMIT $3 OFFSET $4",
        user.is_superuser,
        user.id,
        limit,
        offset,
    )
    return count, [App.from_row(row) for row in rows]


async def _free_name(conn: asyncpg.Connection, *, reserved: list[str]) -> str:
    for attempt in range(GENERATE_ATTEMPTS):
        name = appids.generate_app_id()
        if attempt >= GENERATE_ATTEMPTS // 2:
            # Many apps already: widen the space rather than give up.
            name = f"{name}-{secrets.randbelow(10_000)}"
        if name in reserved:
            continue
        if not await conn.fetchval("SELECT EXISTS (SELECT 1 FROM apps WHERE id = $1)", name):
            return name
    raise errors.ServiceUnavailable("could not find a free app name; give one")


async def create_app(
    conn: asyncpg.Connection, *, ctx: Context, user: User, data: dict[str, Any]
) -> App:
    """Create an app with its initial release, settings, TLS row and default domain.

    Raises:
        FieldErrors: A bad, reserved or taken name.
    """
    reserved = ctx.settings.reserved_names
    if data.get("id") is None:
        name = await _free_name(conn, reserved=reserved)
    else:
        name = appids.validate_new_app_id(data["id"], reserved=reserved)
    app_uuid = uuid.uuid4()
    async with conn.transaction():
        try:
            await conn.execute(
                "INSERT INTO apps (uuid, id, owner_id) VALUES ($1, $2, $3)",
                app_uuid,
                name,
                user.id,
            )
        except asyncpg.UniqueViolationError as exc:
            raise errors.FieldErrors.one("id", "Application with this id already exists.") from exc
        config_uuid = uuid.uuid4()
        await conn.execute(
            "INSERT INTO configs (uuid, app_uuid, owner_id, tags) VALUES ($1, $2, $3, $4)",
            config_uuid,
            app_uuid,
            user.id,
            dict(ctx.settings.default_config_tags),
        )
        summary = f"{user.username} created initial release"
        release = await conn.fetchrow(
            """
            INSERT INTO releases (uuid, app_uuid, owner_id, version, summary, config_uuid)
            VALUES ($1, $2, $3, 1, $4, $5) RETURNING uuid, created
            """,
            uuid.uuid4(),
            app_uuid,
            user.id,
            summary,
            config_uuid,
        )
        assert release is not None
        await conn.execute(
            "INSERT INTO app_settings (uuid, app_uuid, owner_id) VALUES ($1, $2, $3)",
            uuid.uuid4(),
            app_uuid,
            user.id,
        )
        await conn.execute(
            "INSERT INTO tls (uuid, app_uuid, owner_id) VALUES ($1, $2, $3)",
            uuid.uuid4(),
            app_uuid,
            user.id,
        )
        await conn.execute(
            """
            INSERT INTO domains (app_uuid, owner_id, domain) VALUES ($1, $2, $3)
            ON CONFLICT (domain) DO NOTHING
            """,
            app_uuid,
            user.id,
            name,
        )
        await outbox.enqueue_event(
            conn,
            subject=release_events.created_subject(name),
            message=release_events.ReleaseCreated(
                app=name,
                release_id=release["uuid"],
                version=1,
                summary=summary,
                owner=user.username,
                created=release["created"],
            ),
        )
        await state.sync(conn, settings=ctx.settings, app_uuid=app_uuid)
        await state.platform_log(conn, app_id=name, message=summary)
        row = await conn.fetchrow(
            f"SELECT {APP_COLUMNS} FROM apps a JOIN users o ON o.id = a.owner_id WHERE a.uuid = $1",
            app_uuid,
        )
    assert row is not None
    return App.from_row(row)


async def transfer(conn: asyncpg.Connection, *, app: AppAccess, data: dict[str, Any]) -> None:
    """Give the app to another user, with the rows its old owner created.

    Raises:
        PermissionDenied: The caller is a collaborator.
        NotFound: The new owner does not exist.
    """
    access.require_owner(app)
    new_owner = data.get("owner")
    if new_owner is None:
        return
    if not isinstance(new_owner, str):
        raise errors.NotFound("User")
    async with conn.transaction():
        await state.lock_app(conn, app_uuid=app.app.uuid)
        owner_id = await conn.fetchval("SELECT id FROM users WHERE username = $1", new_owner)
        if owner_id is None:
            raise errors.NotFound("User")
        old = app.app.owner_id
        await conn.execute(
            "UPDATE apps SET owner_id = $2, updated = now() WHERE uuid = $1",
            app.app.uuid,
            owner_id,
        )
        for table in ("app_settings", "builds", "configs", "domains", "releases", "tls"):
            await conn.execute(
                f"UPDATE {table} SET owner_id = $3 WHERE app_uuid = $1 AND owner_id = $2",
                app.app.uuid,
                old,
                owner_id,
            )
        await state.platform_log(
            conn,
            app_id=app.app.id,
            message=f"{app.user.username} transferred the app to {new_owner}",
        )


async def destroy(conn: asyncpg.Connection, *, app: AppAccess) -> None:
    """Delete the app and everything it owns; other services see its KV values go.

    Raises:
        PermissionDenied: The caller is a collaborator.
    """
    access.require_owner(app)
    async with conn.transaction():
        await state.lock_app(conn, app_uuid=app.app.uuid)
        await conn.execute("DELETE FROM apps WHERE uuid = $1", app.app.uuid)
        await state.forget(conn, app_id=app.app.id)
