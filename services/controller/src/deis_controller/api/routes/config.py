"""Routes of an app's config: show and set (docs/api.md §2.3)."""

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, Response

from deis_controller.api import bodies, deps, requests_releases, schemas_releases
from deis_controller.api.deps import Conn, Ctx, UsableApp
from deis_controller.api.routing import route
from deis_controller.usecases import config, waiting

router = APIRouter(tags=["config"])


@route(
    router, "/v2/apps/{app_id}/config", methods=["GET"], response_model=schemas_releases.ConfigOut
)
async def show_config(conn: Conn, app: UsableApp) -> Response:
    """The config of the app's latest successful release."""
    return JSONResponse(await config.current(conn, app=app.app))


@route(
    router,
    "/v2/apps/{app_id}/config",
    methods=["POST"],
    status_code=201,
    response_model=schemas_releases.ConfigOut,
    openapi_extra=bodies.openapi_body(requests_releases.ConfigBody, required=False),
)
async def set_config(request: Request, ctx: Ctx, app: UsableApp) -> Response:
    """Merge changes into the config, which makes a new release; answered once it runs."""
    data = await bodies.read_object(request)
    async with waiting.rollout(ctx, app=app.app) as rollout:
        async with deps.acquire(ctx) as conn:
            created = await config.change(conn, ctx=ctx, app=app.app, user=app.user, data=data)
        await rollout.released()
    return JSONResponse(created, status_code=201)
