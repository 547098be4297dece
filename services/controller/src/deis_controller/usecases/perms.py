"""Sharing an app with collaborators (docs/api.md §2.9): list, grant, revoke.

A collaborator may use every app sub-resource except DELETEs (docs/api.md §1.7). The owner is
never listed as a collaborator: granting the owner changes nothing, and after a transfer the
new owner's old grant is not shown.
"""

from typing import Any

import asyncpg

from deis_controller import errors
from deis_controller.usecases import state
from deis_controller.usecases.records import App, AppAccess


async def list_collaborators(conn: asyncpg.Connection, *, app: App) -> list[str]:
    """The usernames granted the app, sorted."""
    rows = await conn.fetch(
        """
        SELECT u.username FROM app_perms p JOIN users u ON u.id = p.user_id
        WHERE p.app_uuid = $1 AND p.user_id <> $2 ORDER BY u.username
        """,
        app.uuid,
        app.owner_id,
    )
    return [row["username"] for row in rows]


async def _user_id(conn: asyncpg.Connection, *, username: Any) -> int:
    """The id of the user named `username`.

    Raises:
        NotFound: No such user (or no username at all).
    """
    user_id: int | None = None
    if isinstance(username, str):
        user_id = await conn.fetchval("SELECT id FROM users WHERE username = $1", username)
    if user_id is None:
        raise errors.NotFound("User")
    return user_id


async def grant(conn: asyncpg.Connection, *, access: AppAccess, data: dict[str, Any]) -> None:
    """Let the user named in `data["username"]` use the app; granting twice is harmless.

    Raises:
        PermissionDenied: The caller is a collaborator.
        NotFound: No such user.
    """
    if not access.may_delete:
        raise errors.PermissionDenied()
    username = data.get("username")
    async with conn.transaction():
        await state.lock_app(conn, app_uuid=access.app.uuid)
        user_id = await _user_id(conn, username=username)
        if user_id == access.app.owner_id:
            return
        status = await conn.execute(
            "INSERT INTO app_perms (app_uuid, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            access.app.uuid,
            user_id,
        )
        if status == "INSERT 0 0":
            return
        await state.platform_log(
            conn, app_id=access.app.id, message=f"{access.user.username} granted {username}"
        )


async def revoke(conn: asyncpg.Connection, *, access: AppAccess, username: str) -> None:
    """Take the app away from a collaborator.

    The owner or an admin may revoke anyone; a collaborator only themself (as upstream, a user
    who holds no grant is a 403, not a 404).

    Raises:
        NotFound: No such user.
        PermissionDenied: The user holds no grant, or the caller may not revoke it.
    """
    async with conn.transaction():
        await state.lock_app(conn, app_uuid=access.app.uuid)
        user_id = await _user_id(conn, username=username)
        granted = await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM app_perms WHERE app_uuid = $1 AND user_id = $2)",
            access.app.uuid,
            user_id,
        )
        if not granted:
            raise errors.PermissionDenied()
        if user_id != access.user.id and not access.may_delete:
            raise errors.PermissionDenied()
        await conn.execute(
            "DELETE FROM app_perms WHERE app_uuid = $1 AND user_id = $2",
            access.app.uuid,
            user_id,
        )
        await state.platform_log(
            conn, app_id=access.app.id, message=f"{access.user.username} revoked {username}"
        )
