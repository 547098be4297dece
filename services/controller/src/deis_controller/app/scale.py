"""Scaling an app's process types (`deis scale web=3`, API.md §2.2).

Scaling changes `apps.structure` and the `formation` of the app's desired state; it creates
no release. The scheduler converges on the new formation by itself, so the request does not
wait for processes to start or stop.
"""

from typing import Any

import asyncpg

from deis_controller import errors
from deis_controller.app import state
from deis_controller.app.context import Context
from deis_controller.app.records import AppAccess
from deis_controller.domain import procfiles

ALWAYS_SCALABLE = frozenset({"cmd"})
"""Types scalable without a Procfile entry: `cmd` runs the image's own command."""

_BUILD = """
SELECT r.build_uuid, b.procfile FROM releases r LEFT JOIN builds b ON b.uuid = r.build_uuid
WHERE r.app_uuid = $1 AND NOT r.failed
ORDER BY r.version DESC LIMIT 1
"""


def describe(structure: dict[str, int]) -> str:
    """`web=3, worker=1`, in the request's order."""
    return ", ".join(f"{kind}={count}" for kind, count in structure.items())


async def scale(
    conn: asyncpg.Connection, *, ctx: Context, app: AppAccess, data: dict[str, Any]
) -> None:
    """Merge the requested counts into the app's structure; nothing happens if unchanged.

    Raises:
        BadRequest: A malformed count or type name (`procfiles.parse_scale`), more processes
            than the settings allow (`procfiles.check_formation`), or no build in the latest
            non-failed release.
        NotFoundDetail: A type that the current build's Procfile does not declare.
    """
    requested = procfiles.parse_scale(data)
    async with conn.transaction():
        locked = await state.lock_app(conn, app_uuid=app.app.uuid)
        if locked is None:
            raise errors.NotFound("App")
        release = await conn.fetchrow(_BUILD, app.app.uuid)
        if release is None or release["build_uuid"] is None:
            raise errors.BadRequest("No build associated with this release")
        procfile: dict[str, str] = release["procfile"]
        for kind in requested:
            if kind not in procfile and kind not in ALWAYS_SCALABLE:
                raise errors.NotFoundDetail(f"Container type {kind} does not exist in application")
        current: dict[str, int] = locked["structure"]
        structure = {**current, **requested}
        if structure == current:
            return
        procfiles.check_formation(
            structure,
            per_type=ctx.settings.max_processes_per_type,
            per_app=ctx.settings.max_processes_per_app,
        )
        await conn.execute(
            "UPDATE apps SET structure = $2, updated = now() WHERE uuid = $1",
            app.app.uuid,
            structure,
        )
        await state.sync(conn, settings=ctx.settings, app_uuid=app.app.uuid, parts="desired")
        await state.platform_log(
            conn,
            app_id=app.app.id,
            message=f"{app.user.username} scaled {describe(requested)}",
        )
