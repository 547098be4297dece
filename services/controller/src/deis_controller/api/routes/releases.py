"""Routes of an app's releases: list, show, roll back (docs/api.md §2.5)."""

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
from deis_controller.usecases import releases, waiting

router = APIRouter(tags=["releases"])

Version = Annotated[str, Path(pattern=r"^[0-9]+$", description="The release number N of vN.")]


@route(
    router,
    "/v2/apps/{app_id}/releases",
    methods=["GET"],
    response_model=schemas.Paginated[schemas_releases.ReleaseOut],
)
async def list_releases(request: Request, conn: Conn, app: UsableApp) -> Response:
    """The app's releases, newest first, failed ones included."""
    window = pagination.page(request)
    count, found = await releases.list_releases(
        conn, app=app.app, limit=window.limit, offset=window.offset
    )
    return JSONResponse(pagination.envelope(request, window=window, count=count, results=found))


@route(
    router,
    "/v2/apps/{app_id}/releases/v{version}",
    methods=["GET"],
    response_model=schemas_releases.ReleaseOut,
)
async def show_release(conn: Conn, app: UsableApp, version: Version) -> Response:
    """Release `v<version>`."""
    return JSONResponse(await releases.show_release(conn, app=app.app, version=version))


@route(
    router,
    "/v2/apps/{app_id}/releases/rollback",
    methods=["POST"],
    status_code=201,
    response_model=schemas_releases.RollbackOut,
    openapi_extra=bodies.openapi_body(requests_releases.RollbackBody, required=False),
)
async def rollback(request: Request, ctx: Ctx, app: UsableApp) -> Response:
    """A new release with the build and config of an earlier one; answered once it runs."""
    data = await bodies.read_object(request)
    async with waiting.rollout(ctx, app=app.app) as rollout:
        async with deps.acquire(ctx) as conn:
            version = await releases.rollback(conn, ctx=ctx, app=app.app, user=app.user, data=data)
        await rollout.released()
    return JSONResponse({"version": version}, status_code=201)
