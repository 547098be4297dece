"""Routes of app settings, the whitelist and TLS (docs/api.md §2.11)."""

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, Response

from deis_controller.api import bodies, requests_settings, schemas_settings
from deis_controller.api.deps import Conn, Ctx, OwnedApp, UsableApp
from deis_controller.api.routing import route
from deis_controller.usecases import appsettings

router = APIRouter(tags=["settings"])


@route(
    router,
    "/v2/apps/{app_id}/settings",
    methods=["GET"],
    response_model=schemas_settings.AppSettingsOut,
)
async def show_settings(conn: Conn, app: UsableApp) -> Response:
    """The app's latest settings."""
    current = await appsettings.current_settings(conn, app=app)
    return JSONResponse(current.public())


@route(
    router,
    "/v2/apps/{app_id}/settings",
    methods=["POST"],
    status_code=201,
    response_model=schemas_settings.AppSettingsOut,
    responses=schemas_settings.UNPROCESSABLE,
    openapi_extra=bodies.openapi_body(requests_settings.SettingsBody),
)
async def change_settings(request: Request, ctx: Ctx, app: UsableApp) -> Response:
    """Change maintenance, routing, whitelist, autoscale or labels; answered once served."""
    data = await bodies.read_object(request)
    changed = await appsettings.change_settings(ctx=ctx, app=app, data=data)
    return JSONResponse(changed.public(), status_code=201)


@route(
    router,
    "/v2/apps/{app_id}/whitelist",
    methods=["GET"],
    response_model=schemas_settings.WhitelistOut,
)
async def show_whitelist(conn: Conn, app: UsableApp) -> Response:
    """The addresses allowed to reach the app."""
    return JSONResponse({"addresses": await appsettings.whitelist(conn, app=app)})


@route(
    router,
    "/v2/apps/{app_id}/whitelist",
    methods=["POST"],
    status_code=201,
    response_model=schemas_settings.WhitelistOut,
    openapi_extra=bodies.openapi_body(requests_settings.WhitelistBody),
)
async def add_addresses(request: Request, ctx: Ctx, app: UsableApp) -> Response:
    """Allow more addresses; the whole whitelist, once served."""
    data = await bodies.read_object(request)
    addresses = await appsettings.add_addresses(ctx=ctx, app=app, data=data)
    return JSONResponse({"addresses": addresses}, status_code=201)


@route(
    router,
    "/v2/apps/{app_id}/whitelist",
    methods=["DELETE"],
    status_code=204,
    responses=schemas_settings.UNPROCESSABLE,
    openapi_extra=bodies.openapi_body(requests_settings.WhitelistBody),
)
async def remove_addresses(request: Request, ctx: Ctx, app: OwnedApp) -> Response:
    """Remove addresses from the whitelist (owner or admin), once served."""
    data = await bodies.read_object(request)
    await appsettings.remove_addresses(ctx=ctx, app=app, data=data)
    return Response(status_code=204)


@route(router, "/v2/apps/{app_id}/tls", methods=["GET"], response_model=schemas_settings.TlsOut)
async def show_tls(conn: Conn, app: UsableApp) -> Response:
    """Whether the app enforces HTTPS."""
    return JSONResponse((await appsettings.current_tls(conn, app=app)).public())


@route(
    router,
    "/v2/apps/{app_id}/tls",
    methods=["POST"],
    status_code=201,
    response_model=schemas_settings.TlsOut,
    openapi_extra=bodies.openapi_body(requests_settings.TlsBody),
)
async def change_tls(request: Request, ctx: Ctx, app: UsableApp) -> Response:
    """Enforce HTTPS or stop enforcing it, once served."""
    data = await bodies.read_object(request)
    changed = await appsettings.change_tls(ctx=ctx, app=app, data=data)
    return JSONResponse(changed.public(), status_code=201)
