"""What the scheduler reports about rollouts: a failed deploy marks its release failed.

The scheduler keeps the previous release running when a rollout fails. Marking the release
failed makes the latest non-failed release current again, so `state.sync` points `desired`
back at it (the scheduler then has nothing new to do) and the next release builds on it.
"""

import asyncpg

from deis_controller.usecases import builder, state
from deis_controller.usecases.context import Context
from deis_shared.events import deploy as deploy_events

_MARK_FAILED = """
UPDATE releases SET failed = true, updated = now()
WHERE app_uuid = $1 AND version = $2 AND NOT failed
RETURNING uuid
"""

_RELEASE_EXISTS = "SELECT EXISTS (SELECT 1 FROM releases WHERE app_uuid = $1 AND version = $2)"


async def deploy_failed(
    conn: asyncpg.Connection, *, ctx: Context, event: deploy_events.DeployFailed
) -> bool:
    """Mark release `v<event.version>` failed, re-sync the app and log the reason.

    Returns:
        Whether the release was marked now (`False` when it already was: a redelivery).

    Raises:
        UnknownTarget: No such app, or no such release of it.
    """
    async with conn.transaction():
        app_uuid = await conn.fetchval("SELECT uuid FROM apps WHERE id = $1", event.app)
        if app_uuid is None:
            raise builder.UnknownTarget(f"app {event.app} does not exist")
        await state.lock_app(conn, app_uuid=app_uuid)
        marked = await conn.fetchval(_MARK_FAILED, app_uuid, event.version)
        if marked is None:
            if not await conn.fetchval(_RELEASE_EXISTS, app_uuid, event.version):
                raise builder.UnknownTarget(f"app {event.app} has no release v{event.version}")
            return False
        await state.sync(conn, settings=ctx.settings, app_uuid=app_uuid)
        await state.platform_log(
            conn, app_id=event.app, message=f"v{event.version} failed to deploy: {event.reason}"
        )
    return True
