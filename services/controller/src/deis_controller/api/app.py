"""The FastAPI application: routes, error handlers, version headers and the lifespan.

The lifespan opens the controller's resources through the shared service runner.
"""

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from starlette.responses import PlainTextResponse, Response

from deis_controller.api import bodies, bodysize, errors as api_errors, headers, routes, routing
from deis_controller.domain.credentials import Passwords
from deis_controller.settings import PLATFORM_VERSION, ControllerSettings
from deis_controller.usecases import undelivered
from deis_controller.usecases.context import Context
from deis_shared.bus import connection
from deis_shared.db import migrations
from deis_shared.runner import MigrationSet, Service, ServiceRunner

SCHEMA = "controller"
"""The controller's Postgres schema."""

COMPONENT = "controller"
"""Component name of the controller's own migrations."""


def runner_for(settings: ControllerSettings, *, schema: str = SCHEMA) -> ServiceRunner:
    """The service runner opening the controller's pool, migrations, NATS and outbox relay.

    An outbox row the relay sets aside as dead (a `desired` or `routes` value that cannot be
    published) is told to the app's log by `undelivered.report`.
    """
    return ServiceRunner(
        settings,
        schema=schema,
        migrations=[MigrationSet(COMPONENT, migrations.load_migrations("deis_controller"))],
        outbox=True,
        on_outbox_dead=undelivered.report,
    )


def context_for(settings: ControllerSettings, service: Service) -> Context:
    """The request-visible context built from an opened service."""
    assert service.pool is not None
    if service.bus is not None:
        settings = settings.model_copy(
            update={"max_message_bytes": bus_message_limit(settings, server=service.bus.nc)}
        )
    return Context(
        settings=settings,
        pool=service.pool,
        passwords=Passwords(
            time_cost=settings.password_time_cost, memory_cost=settings.password_memory_cost
        ),
        nc=service.bus.nc if service.bus is not None else None,
    )


HEADER_ROOM = 4096
"""Bytes of a NATS server's `max_payload` left for a message's headers and KV overhead."""


def bus_message_limit(settings: ControllerSettings, *, server: connection.Client) -> int:
    """The largest value the controller may write to the bus.

    The server's `max_payload` less `HEADER_ROOM`, or `max_message_bytes` if that is lower.
    """
    limit = max(1024, server.max_payload - HEADER_ROOM)
    if settings.max_message_bytes is not None:
        limit = min(limit, settings.max_message_bytes)
    return limit


def create_app(
    settings: ControllerSettings,
    *,
    schema: str = SCHEMA,
    start_workers: Callable[[Service, Context], Awaitable[None]] | None = None,
    on_started: Callable[[Service], None] | None = None,
) -> FastAPI:
    """Build the controller's ASGI application.

    Args:
        settings: The controller's settings.
        schema: The Postgres schema (tests use a unique one per test).
        start_workers: Starts the NATS workers beside the API once the service is open
            (passed in by `deis_controller.service`, which sits above both).
        on_started: Called with the opened service once everything runs (the entry point
            watches its failures).
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with runner_for(settings, schema=schema) as service:
            ctx = context_for(settings, service)
            app.state.context = ctx
            app.state.service = service
            if start_workers is not None:
                await start_workers(service, ctx)
            if on_started is not None:
                on_started(service)
            yield

    app = FastAPI(
        title="Deis controller",
        version=PLATFORM_VERSION,
        description="The Deis Workflow v2 REST API (API version 2.3).",
        lifespan=lifespan,
        redirect_slashes=False,
    )
    api_errors.install(app)
    app.add_middleware(routing.WholePaths, not_found_page=api_errors.NOT_FOUND_PAGE)
    app.add_middleware(bodysize.BodySizeLimit, limit=settings.max_request_bytes)
    app.add_middleware(headers.VersionHeaders)
    for router in routes.ROUTERS:
        app.include_router(router)
    app.add_api_route("/healthz", _ok, methods=["GET", "HEAD"], include_in_schema=False)
    app.add_api_route("/readiness", _ok, methods=["GET", "HEAD"], include_in_schema=False)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


async def _ok() -> Response:
    return PlainTextResponse("OK")


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document plus the request-body models read by `api.bodies`."""
    if app.openapi_schema is not None:
        return app.openapi_schema
    document = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    document["paths"] = {
        routing.document_path(path): item for path, item in document["paths"].items()
    }
    for item in document["paths"].values():
        for operation in item.values():
            # FastAPI documents its own 422 validation body on every route with parameters;
            # this API never sends it (bad parameters are a 404 or a Deis-shaped 400).
            responses = operation.get("responses", {})
            unprocessable = responses.get("422", {})
            if "HTTPValidationError" in str(unprocessable):
                del responses["422"]
    for name in ("HTTPValidationError", "ValidationError"):
        document.get("components", {}).get("schemas", {}).pop(name, None)
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for name, model in bodies.DOCUMENTED.items():
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[name] = schema
    document["components"]["securitySchemes"] = {
        "token": {"type": "apiKey", "in": "header", "name": "Authorization"}
    }
    document["security"] = [{"token": []}]
    app.openapi_schema = document
    return document
