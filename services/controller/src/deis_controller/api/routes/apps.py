"""Routes of apps: list, create, show, transfer, destroy (docs/api.md §2.2)."""

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, Response

from deis_controller.api import bodies, pagination, requests, schemas
from deis_controller.api.deps import Conn, Ctx, CurrentUser, UsableApp
from deis_controller.api.routing import route
from deis_controller.usecases import apps

router = APIRouter(tags=["apps"])


@route(router, "/v2/apps", methods=["GET"], response_model=schemas.Paginated[schemas.AppOut])
async def list_apps(request: Request, conn: Conn, user: CurrentUser) -> Response:
    """The apps the caller may use (all of them for an admin)."""
    window = pagination.page(request)
    count, found = await apps.list_apps(conn, user=user, limit=window.limit, offset=window.offset)
    results = [app.public() for app in found]
    return JSONResponse(pagination.envelope(request, window=window, count=count, results=results))


@route(
    router,
    "/v2/apps",
    methods=["POST"],
    status_code=201,
    response_model=schemas.AppOut,
    openapi_extra=bodies.openapi_body(requests.AppCreateBody, required=False),
)
async def create_app(request: Request, ctx: Ctx, conn: Conn, user: CurrentUser) -> Response:
    """Create an app, named or with a generated name."""
    data = await bodies.read_object(request)
    app = await apps.create_app(conn, ctx=ctx, user=user, data=data)
    return JSONResponse(app.public(), status_code=201)


@route(router, "/v2/apps/{app_id}", methods=["GET"], response_model=schemas.AppOut)
async def show_app(app: UsableApp) -> Response:
    """One app."""
    return JSONResponse(app.app.public())


@route(
    router,
    "/v2/apps/{app_id}",
    methods=["POST"],
    response_class=Response,
    openapi_extra=bodies.openapi_body(requests.AppTransferBody, required=False),
)
async def transfer_app(request: Request, conn: Conn, app: UsableApp) -> Response:
    """Transfer the app to another owner."""
    data = await bodies.read_object(request)
    await apps.transfer(conn, app=app, data=data)
    return Response(status_code=200)


@route(router, "/v2/apps/{app_id}", methods=["DELETE"], status_code=204)
async def destroy_app(conn: Conn, app: UsableApp) -> Response:
    """Destroy the app and everything it runs."""
    await apps.destroy(conn, app=app)
    return Response(status_code=204)
