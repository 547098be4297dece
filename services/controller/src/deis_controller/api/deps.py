"""FastAPI dependencies: the context, a pooled connection, the caller, the app they target.

Declared as `Annotated` aliases so routes read `user: CurrentUser, access: UsableApp`. A
dependency raises the controller's own errors; `api.errors` renders them. Authentication
resolves before the body is read, so a bad token is a 401 whatever the body holds.
"""

import contextlib
import hmac
from collections.abc import AsyncIterator
from typing import Annotated, cast

import asyncpg
from fastapi import Depends, Path, Request

from deis_controller import errors
from deis_controller.usecases import access
from deis_controller.usecases.context import Context
from deis_controller.usecases.records import AppAccess, User


async def context(request: Request) -> Context:
    """The controller's context, put on the app by the lifespan.

    Async on purpose, as every dependency here: FastAPI runs plain functions in a thread pool.
    """
    ctx: Context = request.app.state.context
    return ctx


Ctx = Annotated[Context, Depends(context)]


@contextlib.asynccontextmanager
async def acquire(ctx: Context) -> AsyncIterator[asyncpg.Connection]:
    """A pooled connection, typed as the `Connection` the use cases take."""
    async with ctx.pool.acquire() as conn:
        # A pool proxy forwards every Connection method.
        yield cast(asyncpg.Connection, conn)


async def connection(request: Request, ctx: Ctx) -> AsyncIterator[asyncpg.Connection]:
    """One pooled connection for the whole request."""
    async with acquire(ctx) as conn:
        request.state.connection = conn
        try:
            yield conn
        finally:
            del request.state.connection


@contextlib.asynccontextmanager
async def borrow(request: Request) -> AsyncIterator[asyncpg.Connection]:
    """The request's connection if it holds one already, else a pooled one for a moment.

    A request never waits for a second connection while holding one: with every pooled
    connection held by requests waiting for another, the pool would deadlock.
    """
    held: asyncpg.Connection | None = getattr(request.state, "connection", None)
    if held is not None:
        yield held
        return
    ctx: Context = request.app.state.context
    async with acquire(ctx) as conn:
        yield conn


Conn = Annotated[asyncpg.Connection, Depends(connection)]


async def current_user(request: Request) -> User:
    """The authenticated caller; 401 otherwise.

    The authentication dependencies `borrow` a connection for their one query rather than
    depending on `Conn`: FastAPI's dependency machinery (a yield dependency above all) costs
    more per request than the query, and most reads need nothing else.
    """
    async with borrow(request) as conn:
        return await access.authenticate(conn, header=request.headers.get("authorization"))


CurrentUser = Annotated[User, Depends(current_user)]


async def optional_user(request: Request) -> User | None:
    """The caller if the token is valid, else anonymous (never 401)."""
    async with borrow(request) as conn:
        return await access.optional_user(conn, header=request.headers.get("authorization"))


OptionalUser = Annotated[User | None, Depends(optional_user)]


async def admin_user(user: CurrentUser) -> User:
    """The caller, who must be an admin; 403 otherwise."""
    access.require_admin(user)
    return user


AdminUser = Annotated[User, Depends(admin_user)]

AppId = Annotated[str, Path(pattern=r"^[a-z0-9-]+$", description="The app's name.")]


async def usable_app(request: Request, app_id: AppId) -> AppAccess:
    """The app in the path, which the caller may use (owner, collaborator or admin).

    One query checks the token and finds the app; routes read the caller from `.user`.
    """
    async with borrow(request) as conn:
        return await access.authenticated_app(
            conn, header=request.headers.get("authorization"), app_id=app_id
        )


UsableApp = Annotated[AppAccess, Depends(usable_app)]


async def owned_app(app: UsableApp) -> AppAccess:
    """The app in the path, which the caller owns or administers; 403 for collaborators."""
    access.require_owner(app)
    return app


OwnedApp = Annotated[AppAccess, Depends(owned_app)]


async def builder(request: Request, ctx: Ctx) -> None:
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
