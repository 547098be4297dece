"""Routes of TLS certificates: list, upload, show, delete, attach, detach (docs/api.md §2.8).

Upload and show answer the Cert object of docs/api.md unchanged; for a certificate that
expires within 30 days they add a `Warning: 299 - "<text>"` header (RFC 7234's field,
deprecated by RFC 9111 but still how the Kubernetes API server sends warnings), which
clients that do not know it ignore.
"""

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Request
from starlette.responses import JSONResponse, Response

from deis_controller.api import bodies, pagination, requests_sharing, schemas, schemas_sharing
from deis_controller.api.deps import Conn, Ctx, CurrentUser
from deis_controller.api.routes.domains import DomainName
from deis_controller.api.routing import route
from deis_controller.usecases import certs

router = APIRouter(tags=["certs"])


def _warned(cert: certs.Certificate, *, status_code: int = 200) -> JSONResponse:
    """The Cert object, with a `Warning` header if the certificate expires soon."""
    warning = cert.expiry_warning(now=datetime.now(UTC))
    headers = {} if warning is None else {"Warning": f'299 - "{warning}"'}
    return JSONResponse(cert.public(), status_code=status_code, headers=headers)


CertName = Annotated[str, Path(pattern=r"^[-_*.\w]+$", description="The certificate's name.")]


@route(
    router,
    "/v2/certs",
    methods=["GET"],
    response_model=schemas.Paginated[schemas_sharing.CertOut],
)
async def list_certs(request: Request, conn: Conn, user: CurrentUser) -> Response:
    """The caller's own certificates, by name."""
    window = pagination.page(request)
    count, found = await certs.list_certificates(
        conn, user=user, limit=window.limit, offset=window.offset
    )
    results = [cert.public() for cert in found]
    return JSONResponse(pagination.envelope(request, window=window, count=count, results=results))


@route(
    router,
    "/v2/certs",
    methods=["POST"],
    status_code=201,
    response_model=schemas_sharing.CertOut,
    openapi_extra=bodies.openapi_body(requests_sharing.CertBody),
)
async def create_cert(request: Request, ctx: Ctx, conn: Conn, user: CurrentUser) -> Response:
    """Upload a certificate and its private key."""
    data = await bodies.read_object(request)
    cert = await certs.create_certificate(conn, settings=ctx.settings, user=user, data=data)
    return _warned(cert, status_code=201)


@route(router, "/v2/certs/{name}", methods=["GET"], response_model=schemas_sharing.CertOut)
async def show_cert(conn: Conn, user: CurrentUser, name: CertName) -> Response:
    """One of the caller's certificates."""
    cert = await certs.get_certificate(conn, user=user, name=name)
    return _warned(cert)


@route(router, "/v2/certs/{name}", methods=["DELETE"], status_code=204)
async def delete_cert(ctx: Ctx, conn: Conn, user: CurrentUser, name: CertName) -> Response:
    """Delete one of the caller's certificates, detaching it from its domains."""
    await certs.delete_certificate(conn, settings=ctx.settings, user=user, name=name)
    return Response(status_code=204)


@route(
    router,
    "/v2/certs/{name}/domain",
    methods=["POST"],
    slash="required",
    status_code=201,
    response_class=Response,
    openapi_extra=bodies.openapi_body(requests_sharing.DomainBody),
)
async def attach_cert(
    request: Request, ctx: Ctx, conn: Conn, user: CurrentUser, name: CertName
) -> Response:
    """Serve the certificate on the domain named in the body."""
    data = await bodies.read_object(request)
    await certs.attach(conn, settings=ctx.settings, user=user, name=name, domain=data.get("domain"))
    return Response(status_code=201)


@route(
    router,
    "/v2/certs/{name}/domain/{domain}",
    methods=["POST"],
    slash="absent",
    status_code=201,
    response_class=Response,
    openapi_extra=bodies.openapi_body(requests_sharing.DomainBody, required=False),
)
async def attach_cert_to(
    request: Request, ctx: Ctx, conn: Conn, user: CurrentUser, name: CertName, domain: DomainName
) -> Response:
    """Serve the certificate on the domain in the URL (a `domain` in the body wins, as upstream)."""
    data = await bodies.read_object(request)
    await certs.attach(
        conn, settings=ctx.settings, user=user, name=name, domain=data.get("domain", domain)
    )
    return Response(status_code=201)


@route(
    router,
    "/v2/certs/{name}/domain/{domain}",
    methods=["DELETE"],
    slash="absent",
    status_code=204,
)
async def detach_cert(
    ctx: Ctx, conn: Conn, user: CurrentUser, name: CertName, domain: DomainName
) -> Response:
    """Stop serving the certificate on the domain."""
    await certs.detach(conn, settings=ctx.settings, user=user, name=name, domain=domain)
    return Response(status_code=204)
