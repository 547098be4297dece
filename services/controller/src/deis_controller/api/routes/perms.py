"""Routes of an app's collaborators: list, grant, revoke (docs/api.md §2.9)."""

from typing import Annotated

from fastapi import APIRouter, Path, Request
from starlette.responses import JSONResponse, Response

from deis_controller.api import bodies, requests, schemas_sharing
from deis_controller.api.deps import Conn, UsableApp
from deis_controller.api.routing import route
from deis_controller.usecases import perms

router = APIRouter(tags=["perms"])

Username = Annotated[str, Path(pattern=r"^[-_\w]+$", description="A collaborator's username.")]


@route(router, "/v2/apps/{app_id}/perms", methods=["GET"], response_model=schemas_sharing.PermsOut)
async def list_perms(conn: Conn, app: UsableApp) -> Response:
    """The app's collaborators (the owner is not one)."""
    return JSONResponse({"users": await perms.list_collaborators(conn, app=app.app)})


@route(
    router,
    "/v2/apps/{app_id}/perms",
    methods=["POST"],
    status_code=201,
    response_class=Response,
    openapi_extra=bodies.openapi_body(requests.UsernameBody),
)
async def grant_perm(request: Request, conn: Conn, app: UsableApp) -> Response:
    """Share the app with a user (owner or admin)."""
    data = await bodies.read_object(request)
    await perms.grant(conn, access=app, data=data)
    return Response(status_code=201)


@route(
    router,
    "/v2/apps/{app_id}/perms/{username}",
    methods=["DELETE"],
    status_code=204,
    documented="bare",
)
async def revoke_perm(conn: Conn, app: UsableApp, username: Username) -> Response:
    """Stop sharing the app with a user (owner or admin, or the collaborator themself)."""
    await perms.revoke(conn, access=app, username=username)
    return Response(status_code=204)
