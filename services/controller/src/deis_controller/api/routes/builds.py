"""Routes of an app's builds: list, create (which releases), show (docs/api.md §2.4)."""

from typing import Annotated

from fastapi import APIRouter, Path, Request
from starlette.responses import JSONResponse, Response

from deis_controller.api import (
    bodies,
    deps,
    pagination,
    requests_releases,
    schemas,
    schemas_releases,
)
from deis_controller.api.deps import Conn, Ctx, UsableApp
from deis_controller.api.routing import route
from deis_controller.usecases import builds, waiting

router = APIRouter(tags=["builds"])

BuildId = Annotated[str, Path(pattern=r"^[-_\w]+$", description="The build's uuid.")]


@route(
    router,
    "/v2/apps/{app_id}/builds",
    methods=["GET"],
    response_model=schemas.Paginated[schemas_releases.BuildOut],
)
async def list_builds(request: Request, conn: Conn, app: UsableApp) -> Response:
    """The app's builds, newest first."""
    window = pagination.page(request)
    count, found = await builds.list_builds(
        conn, app=app.app, limit=window.limit, offset=window.offset
    )
    return JSONResponse(pagination.envelope(request, window=window, count=count, results=found))


@route(
    router,
    "/v2/apps/{app_id}/builds",
    methods=["POST"],
    status_code=201,
    response_model=schemas_releases.BuildOut,
    openapi_extra=bodies.openapi_body(requests_releases.BuildBody),
)
async def create_build(request: Request, ctx: Ctx, app: UsableApp) -> Response:
    """Deploy an image: a new build and a new release; answered once it runs."""
    data = await bodies.read_object(request)
    async with waiting.rollout(ctx, app=app.app) as rollout:
        async with deps.acquire(ctx) as conn:
            build = await builds.create_build(conn, ctx=ctx, app=app.app, user=app.user, data=data)
        await rollout.released()
    return JSONResponse(build, status_code=201)


@route(
    router,
    "/v2/apps/{app_id}/builds/{build_id}",
    methods=["GET"],
    response_model=schemas_releases.BuildOut,
)
async def show_build(conn: Conn, app: UsableApp, build_id: BuildId) -> Response:
    """One build of the app, by uuid."""
    return JSONResponse(await builds.show_build(conn, app=app.app, build_id=build_id))
