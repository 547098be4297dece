"""Routes of users and credentials (docs/api.md §1.3, §2.1).

API root, register, login, whoami, passwd, cancel, tokens, users list, admin perms.
"""

from typing import Annotated

from fastapi import APIRouter, Path, Request
from starlette.responses import JSONResponse, Response

from deis_controller.api import bodies, pagination, requests, schemas
from deis_controller.api.deps import AdminUser, Conn, Ctx, CurrentUser, OptionalUser
from deis_controller.api.routing import route
from deis_controller.usecases import users

router = APIRouter(tags=["auth"])


@route(router, "/v2", methods=["GET"], response_model=dict[str, str])
async def api_root(_user: CurrentUser) -> Response:
    """The API root: 401 without a token, which the CLI checks before login."""
    return JSONResponse({})


@route(
    router,
    "/v2/auth/register",
    methods=["POST"],
    status_code=201,
    response_model=schemas.UserOut,
    openapi_extra=bodies.openapi_body(requests.RegisterBody),
)
async def register(request: Request, ctx: Ctx, conn: Conn, caller: OptionalUser) -> Response:
    """Create a user; the first one becomes admin."""
    data = await bodies.read_object(request)
    user = await users.register(conn, ctx=ctx, caller=caller, data=data)
    return JSONResponse(user.public(), status_code=201)


@route(
    router,
    "/v2/auth/login",
    methods=["POST"],
    slash="required",
    response_model=schemas.TokenOut,
    openapi_extra=bodies.openapi_body(requests.LoginBody),
)
async def login(request: Request, ctx: Ctx, conn: Conn) -> Response:
    """Exchange a username and password for a token."""
    data = await bodies.read_object(request)
    token = await users.login(conn, ctx=ctx, data=data)
    return JSONResponse({"token": token})


@route(router, "/v2/auth/whoami", methods=["GET"], response_model=schemas.UserOut)
async def whoami(user: CurrentUser) -> Response:
    """The caller."""
    return JSONResponse(user.public())


@route(
    router,
    "/v2/auth/passwd",
    methods=["POST"],
    response_model=schemas.StatusOut,
    openapi_extra=bodies.openapi_body(requests.PasswdBody),
)
async def passwd(request: Request, ctx: Ctx, conn: Conn, user: CurrentUser) -> Response:
    """Change a password."""
    data = await bodies.read_object(request)
    await users.change_password(conn, ctx=ctx, caller=user, data=data)
    return JSONResponse({"status": "password set"})


@route(
    router,
    "/v2/auth/cancel",
    methods=["DELETE"],
    status_code=204,
    openapi_extra=bodies.openapi_body(requests.UsernameBody, required=False),
)
async def cancel(request: Request, conn: Conn, user: CurrentUser) -> Response:
    """Delete an account."""
    data = await bodies.read_object(request)
    await users.cancel(conn, caller=user, data=data)
    return Response(status_code=204)


@route(
    router,
    "/v2/auth/tokens",
    methods=["POST"],
    slash="required",
    response_model=schemas.TokenOut | str,
    openapi_extra=bodies.openapi_body(requests.TokensBody, required=False),
)
async def tokens(request: Request, conn: Conn, user: CurrentUser) -> Response:
    """Revoke and reissue tokens."""
    data = await bodies.read_object(request)
    token = await users.regenerate_tokens(conn, caller=user, data=data)
    return JSONResponse({"token": token} if token is not None else "")


@route(router, "/v2/users", methods=["GET"], response_model=schemas.Paginated[schemas.UserOut])
async def list_users(request: Request, conn: Conn, _admin: AdminUser) -> Response:
    """Every user (admins only)."""
    window = pagination.page(request)
    count, found = await users.list_users(conn, limit=window.limit, offset=window.offset)
    results = [user.public() for user in found]
    return JSONResponse(pagination.envelope(request, window=window, count=count, results=results))


@route(
    router, "/v2/admin/perms", methods=["GET"], response_model=schemas.Paginated[schemas.AdminOut]
)
async def list_admins(request: Request, conn: Conn, _admin: AdminUser) -> Response:
    """Every admin (admins only)."""
    window = pagination.page(request)
    count, found = await users.list_admins(conn, limit=window.limit, offset=window.offset)
    return JSONResponse(pagination.envelope(request, window=window, count=count, results=found))


@route(
    router,
    "/v2/admin/perms",
    methods=["POST"],
    status_code=201,
    response_class=Response,
    openapi_extra=bodies.openapi_body(requests.UsernameBody),
)
async def grant_admin(request: Request, conn: Conn, _admin: AdminUser) -> Response:
    """Make a user an admin."""
    data = await bodies.read_object(request)
    await users.set_admin(conn, username=data.get("username"), admin=True)
    return Response(status_code=201)


@route(
    router,
    "/v2/admin/perms/{username}",
    methods=["DELETE"],
    status_code=204,
    documented="bare",
)
async def revoke_admin(
    username: Annotated[str, Path(pattern=r"^[\w.@+-]+$")], conn: Conn, _admin: AdminUser
) -> Response:
    """Take a user's admin rights away."""
    await users.set_admin(conn, username=username, admin=False)
    return Response(status_code=204)
