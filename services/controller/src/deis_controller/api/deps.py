"""FastAPI dependencies: the context, a pooled connection, the caller, the app they target.

Declared as `Annotated` aliases so routes read `user: CurrentUser, access: UsableApp`. A
dependency raises the controller's own errors; `api.errors` renders them. Authentication
resolves before the body is read, so a bad token is a 401 whatever the body holds.
"""

import hmac
from collections.abc import AsyncIterator
from typing import Annotated, cast

import asyncpg
from fastapi import Depends, Path, Request

from deis_controller import errors
from deis_controller.app import access
from deis_controller.app.context import Context
from deis_controller.app.records import AppAccess, User


def context(request: Request) -> Context:
    """The controller's context, put on the app by the lifespan."""
    ctx: Context = request.app.state.context
    return ctx


Ctx = Annotated[Context, Depends(context)]


async def connection(ctx: Ctx) -> AsyncIterator[asyncpg.Connection]:
    """One pooled connection for the whole request."""
    async with ctx.pool.acquire() as conn:
        # A pool proxy forwards every Connection method; use cases are typed on Connection.
        yield cast(asyncpg.Connection, conn)


Conn = Annotated[asyncpg.Connection, Depends(connection)]


async def current_user(request: Request, conn: Conn) -> User:
    """The authenticated caller; 401 otherwise."""
    return await access.authenticate(conn, header=request.headers.get("authorization"))


CurrentUser = Annotated[User, Depends(current_user)]


async def optional_user(request: Request, conn: Conn) -> User | None:
    """The caller if the token is valid, else anonymous (never 401)."""
    return await access.optional_user(conn, header=request.headers.get("authorization"))


OptionalUser = Annotated[User | None, Depends(optional_user)]


async def admin_user(user: CurrentUser) -> User:
    """The caller, who must be an admin; 403 otherwise."""
    access.require_admin(user)
    return user


AdminUser = Annotated[User, Depends(admin_user)]

AppId = Annotated[str, Path(pattern=r"^[a-z0-9-]+$", description="The app's name.")]


async def usable_app(app_id: AppId, conn: Conn, user: CurrentUser) -> AppAccess:
    """The app in the path, which the caller may use (owner, collaborator or admin)."""
    return await access.app_for(conn, app_id=app_id, user=user)


UsableApp = Annotated[AppAccess, Depends(usable_app)]


async def owned_app(app: UsableApp) -> AppAccess:
    """The app in the path, which the caller owns or administers; 403 for collaborators."""
    access.require_owner(app)
    return app


OwnedApp = Annotated[AppAccess, Depends(owned_app)]


def builder(request: Request, ctx: Ctx) -> None:
    """Only the builder, with the right `X-Deis-Builder-Auth`, may call the hooks.

    Raises:
        NotAuthenticated: Missing or wrong key, or hooks disabled (empty key).
    """
    expected = ctx.settings.builder_key.get_secret_value()
    given = request.headers.get("x-deis-builder-auth")
    if not expected or given is None or not _same(given, expected):
        raise errors.NotAuthenticated()


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


Builder = Depends(builder)
