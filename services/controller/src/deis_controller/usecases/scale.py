"""Scaling an app's process types (`deis scale web=3`, docs/api.md §2.2).

Scaling changes `apps.structure` and the `formation` of the app's desired state; it creates
no release. As Deis did, the answer waits until the scheduler runs the new counts of the types
the request set (`waiting.Waiter.settled`): every one up, the extra ones of a scale-down gone.
A process of the new formation that crashes fails the request (400, with its exit code and
last lines), and the counts go back to what they were, as Deis scaled the pods back to the old
structure (docs/api.md: "structure rolled back"); the deadline passed (503), the scale goes on.
"""

from dataclasses import dataclass
from typing import Any

import asyncpg

from deis_controller import errors
from deis_controller.domain import procfiles
from deis_controller.usecases import settling, state, waiting
from deis_controller.usecases.context import Context
from deis_controller.usecases.records import AppAccess
from deis_shared.kv import procs as procs_kv

ALWAYS_SCALABLE = frozenset({"cmd"})
"""Types scalable without a Procfile entry: `cmd` runs the image's own command."""

_BUILD = """
SELECT r.version, r.build_uuid, b.procfile
FROM releases r LEFT JOIN builds b ON b.uuid = r.build_uuid
WHERE r.app_uuid = $1 AND NOT r.failed
ORDER BY r.version DESC LIMIT 1
"""


def describe(structure: dict[str, int]) -> str:
    """`web=3, worker=1`, in the request's order."""
    return ", ".join(f"{kind}={count}" for kind, count in structure.items())


@dataclass(frozen=True)
class Scaled:
    """A scale that changed the structure: what to wait for, and what to go back to."""

    version: int
    """The live release, whose processes scale."""
    requested: dict[str, int]
    previous: dict[str, int]
    """The requested types' counts before (a type absent before is absent here)."""
    runnable: frozenset[str]
    """The types the release can run: those of its Procfile, or `cmd` for an image."""

    def counts(self) -> dict[str, int]:
        """The counts the scheduler is to reach, of the types the request set."""
        return {kind: n for kind, n in self.requested.items() if kind in self.runnable}


async def scale(*, ctx: Context, app: AppAccess, data: dict[str, Any]) -> None:
    """Merge the requested counts into the app's structure and wait until they run.

    Raises:
        BadRequest: As `apply`; or a process of the new counts crashed (the counts go back).
        NotFoundDetail: As `apply`.
        Conflict: Another change of the app waits for its rollout.
        ServiceUnavailable: The counts do not run within `rollout_wait` seconds.
    """
    async with waiting.rollout(ctx, app=app.app) as rollout:
        await rollout.note_processes()
        async with ctx.pool.acquire() as conn:
            scaled = await apply(_connection(conn), ctx=ctx, app=app, data=data)
        if scaled is None:
            return

        def judge(found: list[procs_kv.Process]) -> settling.Verdict:
            return settling.scaled(
                found, version=scaled.version, counts=scaled.counts(), before=rollout.before
            )

        try:
            await rollout.settled(judge, doing=f"scaling {describe(scaled.requested)}")
        except errors.BadRequest as exc:
            async with ctx.pool.acquire() as conn:
                await restore(_connection(conn), ctx=ctx, app=app, scaled=scaled, why=str(exc))
            raise


async def apply(
    conn: asyncpg.Connection, *, ctx: Context, app: AppAccess, data: dict[str, Any]
) -> Scaled | None:
    """Merge the requested counts into the app's structure; None (nothing happens) if unchanged.

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
            return None
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
    return Scaled(
        version=int(release["version"]),
        requested=requested,
        previous={kind: current[kind] for kind in requested if kind in current},
        runnable=frozenset(procfile or {"cmd": ""}),
    )


async def restore(
    conn: asyncpg.Connection, *, ctx: Context, app: AppAccess, scaled: Scaled, why: str
) -> None:
    """Put the counts of a failed scale back, unless the app's structure changed since."""
    async with conn.transaction():
        locked = await state.lock_app(conn, app_uuid=app.app.uuid)
        if locked is None:
            return
        current: dict[str, int] = locked["structure"]
        if any(current.get(kind) != n for kind, n in scaled.requested.items()):
            return
        structure = {k: n for k, n in current.items() if k not in scaled.requested}
        structure.update(scaled.previous)
        await conn.execute(
            "UPDATE apps SET structure = $2, updated = now() WHERE uuid = $1",
            app.app.uuid,
            structure,
        )
        await state.sync(conn, settings=ctx.settings, app_uuid=app.app.uuid, parts="desired")
        back = describe({kind: scaled.previous.get(kind, 0) for kind in scaled.requested})
        await state.platform_log(
            conn, app_id=app.app.id, message=f"{why.splitlines()[0]}; scaled back to {back}"
        )


def _connection(conn: Any) -> asyncpg.Connection:
    # A pool proxy forwards every Connection method.
    return conn  # type: ignore[no-any-return]
