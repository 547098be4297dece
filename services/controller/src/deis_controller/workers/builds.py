"""Durable consumers of the events the controller acts on: completed builds, failed deploys.

    deis.events.build.*.completed  (durable controller-builds)   -> Build + Release, once,
                                                                 or build.<app>.refused
    deis.events.deploy.*.failed    (durable controller-deploys)  -> release marked failed

Outcomes map onto the shared consumer's policy: a payload that does not decode, or a failed
deploy naming an app or release the controller does not know, is a `PermanentError` (logged and
terminated, so never redelivered); a database that is away is a `TransientError` (redelivered
with backoff). A completed build of an app or user the controller does not know is refused:
the push waiting for its release hears why at once (`app.pushes`).
"""

import logging
from typing import cast

import asyncpg

from deis_controller.usecases import deploys, pushes
from deis_controller.usecases.context import Context
from deis_shared import events, wire
from deis_shared.bus import connection, consuming
from deis_shared.db import errors as db_errors
from deis_shared.events import build as build_events, deploy as deploy_events

logger = logging.getLogger(__name__)

BUILDS_DURABLE = "controller-builds"
DEPLOYS_DURABLE = "controller-deploys"

POLL = 5.0
"""Seconds an idle fetch waits (`Consumer.stop` cuts the wait short at shutdown)."""

DEPLOY_FAILED_SUBJECTS = "deis.events.deploy.*.failed"
"""Failed deploys of every app (`deploy_events.failed_subject` of one app)."""


class EventHandlers:
    """The handlers, bound to the controller's context."""

    def __init__(self, *, ctx: Context) -> None:
        self._ctx = ctx

    async def build_completed(self, msg: connection.Msg) -> None:
        """Release a completed build, unless it was released before."""
        event = wire.decode(msg.data, build_events.BuildCompleted)
        with db_errors.mapped_errors():
            async with self._ctx.pool.acquire() as proxy:
                conn = cast(asyncpg.Connection, proxy)
                released = await pushes.release_pushed_build(conn, ctx=self._ctx, event=event)
        if released is not None:
            logger.info(
                "released build %s of %s as v%d", event.build_id, event.app, released.version
            )

    async def deploy_failed(self, msg: connection.Msg) -> None:
        """Mark the release of a failed deploy failed."""
        event = wire.decode(msg.data, deploy_events.DeployFailed)
        with db_errors.mapped_errors():
            async with self._ctx.pool.acquire() as proxy:
                conn = cast(asyncpg.Connection, proxy)
                marked = await deploys.deploy_failed(conn, ctx=self._ctx, event=event)
        if marked:
            logger.info("release v%d of %s failed to deploy", event.version, event.app)


def consumers(*, js: connection.JetStream, ctx: Context) -> dict[str, consuming.Consumer]:
    """The build and deploy consumers by durable name, not running yet."""
    handlers = EventHandlers(ctx=ctx)
    return {
        BUILDS_DURABLE: consuming.Consumer(
            js=js,
            stream=events.STREAM,
            durable=BUILDS_DURABLE,
            filter_subject=build_events.COMPLETED_SUBJECTS,
            handler=handlers.build_completed,
            poll=POLL,
        ),
        DEPLOYS_DURABLE: consuming.Consumer(
            js=js,
            stream=events.STREAM,
            durable=DEPLOYS_DURABLE,
            filter_subject=DEPLOY_FAILED_SUBJECTS,
            handler=handlers.deploy_failed,
            poll=POLL,
        ),
    }
