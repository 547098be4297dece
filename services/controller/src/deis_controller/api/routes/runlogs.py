"""Routes of one-off processes and logs: `deis run` and `deis logs [-f]` (docs/api.md §2.2).

Neither route holds a pooled connection while the scheduler or the logger works: they take
`UsableApp` (whose check returns its connection at once) or check access themselves.
"""

import contextlib
from collections.abc import AsyncIterator
from typing import cast

import asyncpg
from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse

from deis_controller.api import bodies, requests_hooks, schemas_hooks
from deis_controller.api.deps import AppId, Ctx, UsableApp
from deis_controller.api.routing import route
from deis_controller.usecases import access, runlogs

router = APIRouter(tags=["processes"])

TEXT = "text/plain; charset=utf-8"

LOG_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {"content": {"text/plain": {"schema": {"type": "string"}}}},
    204: {"description": "The app has no logs."},
    500: {
        "description": "The logger could not be reached.",
        "content": {"text/plain": {"schema": {"type": "string"}}},
    },
}

LOG_PARAMETERS = [
    {
        "name": "log_lines",
        "in": "query",
        "required": False,
        "schema": {"type": "integer", "minimum": 1, "default": runlogs.DEFAULT_LOG_LINES},
        "description": "How many of the last lines to show.",
    },
]
"""Read from the query string by hand: a bad `log_lines` means the default. `follow=true` (our
extension, a stream that stays open) is left out of the document on purpose, so that generated
requests do not hang on it."""


@route(
    router,
    "/v2/apps/{app_id}/run",
    methods=["POST"],
    response_model=schemas_hooks.RunOut,
    openapi_extra=bodies.openapi_body(requests_hooks.RunBody),
)
async def run(request: Request, ctx: Ctx, app: UsableApp) -> Response:
    """Run a command once in the app's environment; its exit code and output."""
    data = await bodies.read_object(request)
    command = runlogs.parse_command(data, max_bytes=ctx.settings.max_run_command_bytes)
    result = await runlogs.run(ctx=ctx, app=app, command=command)
    return JSONResponse({"exit_code": result.exit_code, "output": result.output})


@route(
    router,
    "/v2/apps/{app_id}/logs",
    methods=["GET"],
    response_class=PlainTextResponse,
    responses=LOG_RESPONSES,
    openapi_extra={"parameters": LOG_PARAMETERS},
)
async def logs(request: Request, ctx: Ctx, app_id: AppId) -> Response:
    """The app's last lines (`?log_lines=N`), or with `?follow=true` a stream of new ones too."""
    async with ctx.pool.acquire() as conn:
        found = await access.authenticated_app(
            cast(asyncpg.Connection, conn),
            header=request.headers.get("authorization"),
            app_id=app_id,
        )
    lines = runlogs.log_lines(request.query_params.get("log_lines"))
    follow = request.query_params.get("follow", "").lower() in ("true", "1", "yes")
    name = found.app.id
    try:
        if follow:
            stream = await runlogs.follow(ctx=ctx, app_id=name, lines=lines)
            return StreamingResponse(_text(stream), media_type=TEXT)
        tail = await runlogs.tail(ctx=ctx, app_id=name, lines=lines)
    except runlogs.LogsUnavailable:
        return PlainTextResponse(f"Error accessing logs for {name}", status_code=500)
    if not tail:
        return Response(status_code=204)
    return PlainTextResponse("\n".join(tail) + "\n")


async def _text(stream: runlogs.Follow) -> AsyncIterator[bytes]:
    # uvicorn cancels the response when the client goes; `aclosing` then unsubscribes at once
    # rather than whenever the abandoned generator is collected.
    async with contextlib.aclosing(stream.lines()) as lines:
        async for line in lines:
            yield (line + "\n").encode()
