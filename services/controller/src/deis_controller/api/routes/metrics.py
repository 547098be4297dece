"""Route of an app's request metrics: `deis metrics` (our extension of Deis's API).

It takes `UsableApp`, as the app's other reads do (owner, collaborator or admin), whose check
returns its pooled connection at once: the reading of `METRICS` holds none.
"""

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, Response

from deis_controller.api import schemas_metrics
from deis_controller.api.deps import Ctx, UsableApp
from deis_controller.api.routing import route
from deis_controller.usecases import metrics

router = APIRouter(tags=["metrics"])

PARAMETERS = [
    {
        "name": "minutes",
        "in": "query",
        "required": False,
        "schema": {
            "type": "integer",
            "minimum": 1,
            "maximum": metrics.MAX_MINUTES,
            "default": metrics.DEFAULT_MINUTES,
        },
        "description": "How many minutes back, the current one included.",
    },
]
"""Read from the query string by hand, so that a bad value gets a Deis field error."""

RESPONSES: dict[int | str, dict[str, object]] = {
    400: {"description": "`minutes` is not a whole number from 1 to 1440."},
    503: {"description": "NATS cannot be reached."},
}


@route(
    router,
    "/v2/apps/{app_id}/metrics",
    methods=["GET"],
    response_model=schemas_metrics.MetricsOut,
    responses=RESPONSES,
    openapi_extra={"parameters": PARAMETERS},
)
async def app_metrics(request: Request, ctx: Ctx, app: UsableApp) -> Response:
    """The app's requests per minute over the last `minutes` minutes, summed over routers."""
    minutes = metrics.parse_minutes(request.query_params.get("minutes"))
    return JSONResponse(await metrics.recent(ctx=ctx, app_id=app.app.id, minutes=minutes))
