"""Routes of pods (`deis ps`, `deis ps:restart`) and scaling (docs/api.md §2.2, §2.6).

These routes take `UsableApp` rather than `Conn`: they read NATS, and a restart or a scale waits
for the scheduler (`app.waiting`), holding no pooled connection meanwhile.
"""

from typing import Annotated

from fastapi import APIRouter, Path, Request
from starlette.responses import JSONResponse, Response

from deis_controller.api import bodies, requests_settings, schemas_settings
from deis_controller.api.deps import Ctx, UsableApp
from deis_controller.api.routing import route
from deis_controller.usecases import pods, restarts, scale

router = APIRouter(tags=["pods"])

PodType = Annotated[str, Path(pattern=r"^[-_\w.]+$", description="A process type.")]
PodName = Annotated[str, Path(pattern=r"^[-_\w]+$", description="A pod's name, or its short form.")]

POD_LIST = schemas_settings.PodListOut
POD_ARRAY = list[schemas_settings.PodOut]


def _listed(found: list[pods.Pod]) -> Response:
    results = [pod.public() for pod in found]
    return JSONResponse({"results": results, "count": len(results)})


def _restarted(found: list[pods.Pod]) -> Response:
    return JSONResponse([pod.public() for pod in found])


@route(router, "/v2/apps/{app_id}/pods", methods=["GET"], response_model=POD_LIST)
async def list_pods(ctx: Ctx, app: UsableApp) -> Response:
    """The app's pods of its current release."""
    return _listed(await pods.list_pods(ctx=ctx, app=app))


@route(router, "/v2/apps/{app_id}/pods/{pod_type}", methods=["GET"], response_model=POD_LIST)
async def list_pods_of_type(ctx: Ctx, app: UsableApp, pod_type: PodType) -> Response:
    """The app's pods of one process type."""
    return _listed(await pods.list_pods(ctx=ctx, app=app, kind=pod_type))


@route(
    router,
    "/v2/apps/{app_id}/pods/{pod_type}/{pod_name}",
    methods=["GET"],
    response_model=POD_LIST,
)
async def show_pod(ctx: Ctx, app: UsableApp, pod_type: PodType, pod_name: PodName) -> Response:
    """One pod, as a list of one (none if it is not running)."""
    return _listed(await pods.list_pods(ctx=ctx, app=app, kind=pod_type, name=pod_name))


@route(router, "/v2/apps/{app_id}/pods/restart", methods=["POST"], response_model=POD_ARRAY)
async def restart_pods(ctx: Ctx, app: UsableApp) -> Response:
    """Restart every pod of the app; the replacements, once they run."""
    return _restarted(await restarts.restart(ctx=ctx, app=app))


@route(
    router,
    "/v2/apps/{app_id}/pods/{pod_type}/restart",
    methods=["POST"],
    response_model=POD_ARRAY,
)
async def restart_pods_of_type(ctx: Ctx, app: UsableApp, pod_type: PodType) -> Response:
    """Restart the pods of one process type."""
    return _restarted(await restarts.restart(ctx=ctx, app=app, kind=pod_type))


@route(
    router,
    "/v2/apps/{app_id}/pods/{pod_type}/{pod_name}/restart",
    methods=["POST"],
    response_model=POD_ARRAY,
)
async def restart_pod(ctx: Ctx, app: UsableApp, pod_type: PodType, pod_name: PodName) -> Response:
    """Restart one pod."""
    return _restarted(await restarts.restart(ctx=ctx, app=app, kind=pod_type, name=pod_name))


@route(
    router,
    "/v2/apps/{app_id}/scale",
    methods=["POST"],
    status_code=204,
    openapi_extra=bodies.openapi_body(requests_settings.ScaleBody),
)
async def scale_app(request: Request, ctx: Ctx, app: UsableApp) -> Response:
    """Set the number of processes of some types; answered once they run."""
    data = await bodies.read_object(request)
    await scale.scale(ctx=ctx, app=app, data=data)
    return Response(status_code=204)
