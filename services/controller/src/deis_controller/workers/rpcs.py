"""The RPCs the controller answers for the builder: who owns an SSH key, may that user push.

Each is a `Responder` in the queue group `controller`, so replicas share the load. A database
that is away is a transient failure: the builder gets `RpcUnavailable` and may retry.
"""

from typing import Any, cast

import asyncpg

from deis_controller.usecases import builder
from deis_shared.bus import connection, requesting
from deis_shared.db import errors as db_errors
from deis_shared.rpc import controller as controller_rpc

QUEUE = "controller"
"""Queue group of the controller's responders."""


class BuilderRpcs:
    """The handlers, bound to the controller's pool."""

    def __init__(self, *, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def key(self, request: controller_rpc.KeyLookupRequest) -> controller_rpc.KeyLookupReply:
        """The owner of the key with `request.fingerprint`, or `None`."""
        with db_errors.mapped_errors():
            async with self._pool.acquire() as proxy:
                conn = cast(asyncpg.Connection, proxy)
                user = await builder.key_owner(conn, fingerprint=request.fingerprint)
        return controller_rpc.KeyLookupReply(username=None if user is None else user.username)

    async def authorize(
        self, request: controller_rpc.AuthorizeRequest
    ) -> controller_rpc.AuthorizeReply:
        """Whether `request.username` may push to `request.app`, with the reason if not."""
        with db_errors.mapped_errors():
            async with self._pool.acquire() as proxy:
                conn = cast(asyncpg.Connection, proxy)
                decision = await builder.authorize(
                    conn, username=request.username, app_id=request.app
                )
        return controller_rpc.AuthorizeReply(allowed=decision.allowed, reason=decision.reason)


def responders(
    *, nc: connection.Client, pool: asyncpg.Pool
) -> list[requesting.Responder[Any, Any]]:
    """The key and authorize responders, not started yet."""
    handlers = BuilderRpcs(pool=pool)
    key: requesting.Responder[controller_rpc.KeyLookupRequest, controller_rpc.KeyLookupReply] = (
        requesting.Responder(
            nc=nc,
            subject=controller_rpc.KEY_SUBJECT,
            queue=QUEUE,
            request_type=controller_rpc.KeyLookupRequest,
            handler=handlers.key,
        )
    )
    authorize: requesting.Responder[
        controller_rpc.AuthorizeRequest, controller_rpc.AuthorizeReply
    ] = requesting.Responder(
        nc=nc,
        subject=controller_rpc.AUTHORIZE_SUBJECT,
        queue=QUEUE,
        request_type=controller_rpc.AuthorizeRequest,
        handler=handlers.authorize,
    )
    return [key, authorize]
