"""Restarting an app's pods (`deis ps:restart [type|pod]`, docs/api.md §2.6).

The request is a counter in the app's `desired` value (`restarts`), raised under the app's
lock: the scheduler restarts the matching processes, one by one for web, when it sees the
counter rise. As Deis did, the answer waits for the replacements to run and lists them
(`waiting.Waiter.settled`, `settling.restarted`); a replacement that crashes is a 400 with its
exit code and last lines, and the deadline passed a 503 (the restart goes on).
"""

from datetime import UTC, datetime
from typing import cast

import asyncpg

from deis_controller.usecases import pods, settling, state, waiting
from deis_controller.usecases.context import Context
from deis_controller.usecases.records import AppAccess
from deis_shared.kv import procs as procs_kv

_RAISE = """
UPDATE apps SET restarts = jsonb_set(
    restarts, ARRAY[$2::text], to_jsonb(coalesce((restarts ->> $2)::int, 0) + 1)
)
WHERE uuid = $1
"""

_LATEST_VERSION = """
SELECT max(version) FROM releases WHERE app_uuid = $1 AND NOT failed
"""


async def restart(
    *, ctx: Context, app: AppAccess, kind: str | None = None, name: str | None = None
) -> list[pods.Pod]:
    """Restart the app's pods (all, one type, or one pod); the replacements once they run.

    Raises:
        BadRequest: A replacement crashed.
        Conflict: Another change of the app waits for its rollout.
        ServiceUnavailable: The processes cannot be read, or the replacements do not run
            within `rollout_wait` seconds.
    """
    target = "*" if kind is None else kind
    wanted = None if name is None else pods.full_name(app_id=app.app.id, name=name)
    if wanted is not None:
        target = wanted
    async with waiting.rollout(ctx, app=app.app) as rollout:
        await rollout.note_processes()
        async with ctx.pool.acquire() as conn, conn.transaction():
            await conn.execute(_RAISE, app.app.uuid, target)
            version = await conn.fetchval(_LATEST_VERSION, app.app.uuid)
            connection = cast(asyncpg.Connection, conn)
            await state.sync(
                connection, settings=ctx.settings, app_uuid=app.app.uuid, parts="desired"
            )
            what = "every process" if target == "*" else target
            await state.platform_log(
                connection, app_id=app.app.id, message=f"{app.user.username} restarted {what}"
            )
        if version is None or not rollout.waits:
            return await pods.list_pods(ctx=ctx, app=app, kind=kind, name=name)

        def judge(found: list[procs_kv.Process]) -> settling.Verdict:
            return settling.restarted(
                found, version=version, before=rollout.before, kind=kind, name=wanted
            )

        running = await rollout.settled(judge, doing=f"restarting {what}")
    replacements = [] if running is None else running.processes
    return pods.visible(replacements, version=version, now=datetime.now(UTC))
