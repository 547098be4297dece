"""Routes of the caller's SSH keys: list, add, show, remove (docs/api.md §2.10).

A key's id is everything after `/v2/keys/`, slashes included: `/v2/keys/foo/` names the key
`foo/`, as Deis's greedy pattern did.
"""

from typing import Annotated

from fastapi import APIRouter, Path, Request
from starlette.responses import JSONResponse, Response

from deis_controller.api import bodies, pagination, requests_sharing, schemas, schemas_sharing
from deis_controller.api.deps import Conn, CurrentUser
from deis_controller.api.routing import route
from deis_controller.usecases import keys

router = APIRouter(tags=["keys"])

KeyId = Annotated[str, Path(min_length=1, description="The key's id (its name).")]


@route(
    router, "/v2/keys", methods=["GET"], response_model=schemas.Paginated[schemas_sharing.KeyOut]
)
async def list_keys(request: Request, conn: Conn, user: CurrentUser) -> Response:
    """The caller's keys, ordered by their public text."""
    window = pagination.page(request)
    count, found = await keys.list_keys(conn, user=user, limit=window.limit, offset=window.offset)
    results = [key.public_object() for key in found]
    return JSONResponse(pagination.envelope(request, window=window, count=count, results=results))


@route(
    router,
    "/v2/keys",
    methods=["POST"],
    status_code=201,
    response_model=schemas_sharing.KeyOut,
    openapi_extra=bodies.openapi_body(requests_sharing.KeyBody),
)
async def add_key(request: Request, conn: Conn, user: CurrentUser) -> Response:
    """Register a public key."""
    data = await bodies.read_object(request)
    key = await keys.create_key(conn, user=user, data=data)
    return JSONResponse(key.public_object(), status_code=201)


@route(
    router,
    "/v2/keys/{key_id:path}",
    methods=["GET"],
    slash="absent",
    response_model=schemas_sharing.KeyOut,
)
async def show_key(conn: Conn, user: CurrentUser, key_id: KeyId) -> Response:
    """One of the caller's keys."""
    key = await keys.get_key(conn, user=user, key_id=key_id)
    return JSONResponse(key.public_object())


@route(router, "/v2/keys/{key_id:path}", methods=["DELETE"], slash="absent", status_code=204)
async def remove_key(conn: Conn, user: CurrentUser, key_id: KeyId) -> Response:
    """Remove one of the caller's keys."""
    await keys.delete_key(conn, user=user, key_id=key_id)
    return Response(status_code=204)
