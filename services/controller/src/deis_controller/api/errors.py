"""The one place where errors become HTTP responses, in Deis's shapes (docs/api.md §1.6)."""

import logging

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import HTMLResponse, JSONResponse, Response

from deis_controller import errors
from deis_controller.api.headers import VERSION_HEADERS
from deis_controller.usecases import access

logger = logging.getLogger(__name__)

NOT_FOUND_PAGE = (
    "<!DOCTYPE html><html><head><title>Not Found</title></head><body>"
    "<h1>Not Found</h1><p>The requested resource was not found on this server.</p>"
    "</body></html>"
)
"""Django's plain 404 page for a URL that matches no route."""


async def api_error(_request: Request, exc: Exception) -> Response:
    """A use case refused the request."""
    assert isinstance(exc, errors.ApiError)
    headers = {"WWW-Authenticate": "Token"} if exc.status == 401 else None
    return JSONResponse(exc.body(), status_code=exc.status, headers=headers)


async def http_error(request: Request, exc: Exception) -> Response:
    """Starlette's routing errors: no route (HTML 404) or wrong method (405)."""
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return HTMLResponse(NOT_FOUND_PAGE, status_code=404)
    if exc.status_code == 405:
        refused = await _unauthenticated(request)
        if refused is not None:
            return refused
        return JSONResponse(
            {"detail": f'Method "{request.method}" not allowed.'},
            status_code=405,
            headers=exc.headers,
        )
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)


PUBLIC_PATHS = ("/v2/auth/register", "/v2/auth/login", "/healthz", "/readiness")
"""Paths anyone may call: a wrong method there is a plain 405."""


async def _unauthenticated(request: Request) -> Response | None:
    """DRF authenticates before it checks the method: an anonymous wrong method is a 401."""
    path = request.url.path
    if not path.startswith("/v2") or path.startswith(PUBLIC_PATHS):
        return None
    context = getattr(request.app.state, "context", None)
    if context is None:
        return None
    try:
        async with context.pool.acquire() as conn:
            await access.authenticate(conn, header=request.headers.get("authorization"))
    except errors.NotAuthenticated as refused:
        return await api_error(request, refused)
    return None


async def validation_error(_request: Request, exc: Exception) -> Response:
    """A path or query parameter FastAPI validated failed: a Deis field error."""
    assert isinstance(exc, RequestValidationError)
    if any(error.get("loc", ("",))[0] == "path" for error in exc.errors()):
        # Django matched path segments with regexes: a segment that does not match is no route.
        return HTMLResponse(NOT_FOUND_PAGE, status_code=404)
    fields: dict[str, list[str]] = {}
    for error in exc.errors():
        location = [str(part) for part in error.get("loc", ()) if part not in ("body", "query")]
        fields.setdefault(".".join(location) or "non_field_errors", []).append(error["msg"])
    return JSONResponse(fields, status_code=400)


async def data_error(_request: Request, exc: Exception) -> Response:
    """PostgreSQL refused a value (a NUL byte, an out-of-range number): the input was bad."""
    logger.info("input refused by the database: %s", exc)
    return JSONResponse({"detail": f"Invalid input: {exc}"}, status_code=400)


async def server_error(request: Request, exc: Exception) -> Response:
    """Anything unexpected: logged with its traceback, answered as Deis's 500."""
    logger.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse({"detail": "Server Error"}, status_code=500, headers=VERSION_HEADERS)


def install(app: FastAPI) -> None:
    """Register the handlers on `app`."""
    app.add_exception_handler(errors.ApiError, api_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(asyncpg.DataError, data_error)
    app.add_exception_handler(Exception, server_error)
