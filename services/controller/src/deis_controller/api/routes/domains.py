"""Routes of an app's domains: list, add, remove (docs/api.md §2.7)."""

from typing import Annotated

from fastapi import APIRouter, Path, Request
from starlette.responses import JSONResponse, Response

from deis_controller.api import bodies, pagination, requests_sharing, schemas, schemas_sharing
from deis_controller.api.deps import Conn, Ctx, OwnedApp, UsableApp
from deis_controller.api.routing import route
from deis_controller.usecases import domains

router = APIRouter(tags=["domains"])

DomainName = Annotated[
    str,
    Path(
        pattern=r"^\**\.?[-._\w]+$",
        description="A domain, in Unicode or ACE form (a leading `*.` for a wildcard).",
    ),
]
"""Deis's URL pattern for a domain: a segment that does not match is no route (404)."""


@route(
    router,
    "/v2/apps/{app_id}/domains",
    methods=["GET"],
    response_model=schemas.Paginated[schemas_sharing.DomainOut],
)
async def list_domains(request: Request, conn: Conn, app: UsableApp) -> Response:
    """The app's domains, by name."""
    window = pagination.page(request)
    count, found = await domains.list_domains(
        conn, app=app.app, limit=window.limit, offset=window.offset
    )
    results = [domain.public() for domain in found]
    return JSONResponse(pagination.envelope(request, window=window, count=count, results=results))


@route(
    router,
    "/v2/apps/{app_id}/domains",
    methods=["POST"],
    status_code=201,
    response_model=schemas_sharing.DomainOut,
    openapi_extra=bodies.openapi_body(requests_sharing.DomainBody),
)
async def add_domain(request: Request, ctx: Ctx, conn: Conn, app: UsableApp) -> Response:
    """Claim a domain for the app."""
    data = await bodies.read_object(request)
    domain = await domains.add_domain(conn, settings=ctx.settings, access=app, data=data)
    ctx.issuer_wake.set()  # the app may be under automatic TLS: the issuer looks at once
    return JSONResponse(domain.public(), status_code=201)


@route(
    router,
    "/v2/apps/{app_id}/domains/{domain}",
    methods=["DELETE"],
    status_code=204,
    documented="bare",
)
async def remove_domain(ctx: Ctx, conn: Conn, app: OwnedApp, domain: DomainName) -> Response:
    """Release one of the app's domains (owner or admin)."""
    await domains.remove_domain(conn, settings=ctx.settings, access=app, domain=domain)
    return Response(status_code=204)
