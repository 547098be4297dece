"""Routes of the builder hooks (docs/api.md §2.12): only the builder, by its shared key."""

from typing import Annotated

from fastapi import APIRouter, Path, Request
from starlette.responses import JSONResponse, Response

from deis_controller.api import bodies, requests_hooks, schemas_hooks
from deis_controller.api.deps import AppId, Builder, Conn, Ctx
from deis_controller.api.routing import route
from deis_controller.usecases import builderhooks

router = APIRouter(tags=["hooks"], dependencies=[Builder])

Fingerprint = Annotated[str, Path(description="MD5 fingerprint of the SSH key.")]
Username = Annotated[str, Path(pattern=r"^[\w.@+-]+$", description="A username.")]

Keys = dict[str, list[schemas_hooks.HookKeyOut]]


@route(
    router,
    "/v2/hooks/key/{fingerprint:path}",
    methods=["GET"],
    slash="absent",
    response_model=schemas_hooks.KeyOwnerOut,
)
async def key_owner(conn: Conn, fingerprint: Fingerprint) -> Response:
    """Who owns the SSH key, and the apps they may use."""
    found = await builderhooks.key_owner(conn, fingerprint=fingerprint)
    return JSONResponse({"username": found.username, "apps": found.apps})


@route(
    router,
    "/v2/hooks/config",
    methods=["POST"],
    response_model=schemas_hooks.HookConfigOut,
    openapi_extra=bodies.openapi_body(requests_hooks.HookUserBody),
)
async def config(request: Request, conn: Conn) -> Response:
    """The config of the app's latest release, for the user who pushes."""
    data = await bodies.read_object(request)
    return JSONResponse(await builderhooks.config(conn, data=data))


@route(
    router,
    "/v2/hooks/build",
    methods=["POST"],
    response_model=schemas_hooks.BuildHookOut,
    openapi_extra=bodies.openapi_body(requests_hooks.BuildHookBody),
)
async def build(request: Request, ctx: Ctx, conn: Conn) -> Response:
    """Create a build for the user who pushed, and release it."""
    data = await bodies.read_object(request)
    version = await builderhooks.build(conn, ctx=ctx, data=data)
    return JSONResponse({"release": {"version": version}})


@route(router, "/v2/hooks/keys/{app_id}", methods=["GET"], response_model=Keys)
async def app_keys(conn: Conn, app_id: AppId) -> Response:
    """The SSH keys of the users granted the app."""
    return JSONResponse(await builderhooks.app_keys(conn, app_id=app_id))


@route(router, "/v2/hooks/keys/{app_id}/{username}", methods=["GET"], response_model=Keys)
async def user_keys(conn: Conn, app_id: AppId, username: Username) -> Response:
    """The SSH keys of one user who may use the app."""
    return JSONResponse(await builderhooks.user_keys(conn, app_id=app_id, username=username))
