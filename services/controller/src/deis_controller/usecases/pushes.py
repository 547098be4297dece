"""A build the builder completed becomes a Build and a Release, exactly once.

The builder's build id is claimed in `processed_builds` in the same transaction as the
release, so a redelivered event (or a second controller handling the same one) finds it
claimed and creates nothing.

A build the controller will not release (its app or its user deleted while it was built, a
Procfile it refuses) keeps its claim and is announced as `build.<app>.refused` through the
outbox in the same transaction, so the push waiting for a release ends at once with the reason,
and a crash after the commit loses nothing.
"""

import logging

import asyncpg

from deis_controller import errors
from deis_controller.usecases import builder, releases, state
from deis_controller.usecases.context import Context
from deis_controller.usecases.records import APP_COLUMNS, App
from deis_shared.events import build as build_events
from deis_shared.outbox import outbox

logger = logging.getLogger(__name__)

_CLAIM = """
INSERT INTO processed_builds (build_id, app) VALUES ($1, $2)
ON CONFLICT (build_id) DO NOTHING RETURNING true
"""

_APP = f"SELECT {APP_COLUMNS} FROM apps a JOIN users o ON o.id = a.owner_id WHERE a.id = $1"


async def release_pushed_build(
    conn: asyncpg.Connection, *, ctx: Context, event: build_events.BuildCompleted
) -> releases.Released | None:
    """Create the Build and Release for a completed build, once per build id.

    Returns:
        The release, or `None` when the build was already handled or the release was refused
        (`BuildRefused` then tells the push why, and a platform log line the app's users).
    """
    async with conn.transaction():
        if not await conn.fetchval(_CLAIM, event.build_id, event.app):
            logger.info("build %s of %s was already released", event.build_id, event.app)
            return None
        row = await conn.fetchrow(_APP, event.app)
        if row is None:
            await _refuse(
                conn, event, f"app {event.app} was deleted during the push: nothing was released"
            )
            return None
        app = App.from_row(row)
        user = await builder.user_named(conn, username=event.user)
        if user is None:
            await _refuse(
                conn, event, f"user {event.user} was deleted during the push: nothing was released"
            )
            return None
        try:
            async with conn.transaction():
                released = await releases.release_build(
                    conn,
                    ctx=ctx,
                    app=app,
                    user=user,
                    image=event.slug_key,
                    sha=event.sha,
                    procfile=dict(event.procfile),
                    slug_key=event.slug_key,
                )
        except errors.ApiError as exc:
            # The claim stays (no release_uuid): the same event would be refused again.
            await _refuse(conn, event, f"the controller refused to release the build: {exc}")
            await state.platform_log(
                conn,
                app_id=app.id,
                message=f"build {event.sha[:7]} by {user.username} was not released: {exc}",
            )
            return None
        await conn.execute(
            "UPDATE processed_builds SET release_uuid = $2 WHERE build_id = $1",
            event.build_id,
            released.release_uuid,
        )
    return released


async def _refuse(
    conn: asyncpg.Connection, event: build_events.BuildCompleted, reason: str
) -> None:
    """Announce, in the caller's transaction, that `event`'s build gets no release."""
    logger.warning("build %s of %s refused: %s", event.build_id, event.app, reason)
    await outbox.enqueue_event(
        conn,
        subject=build_events.refused_subject(event.app),
        message=build_events.BuildRefused(
            app=event.app,
            build_id=event.build_id,
            sha=event.sha,
            user=event.user,
            reason=reason,
        ),
    )
