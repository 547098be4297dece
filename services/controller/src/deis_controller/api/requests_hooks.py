"""Request-body models of the builder hooks and `run`, for the OpenAPI document.

Validation itself is in the use cases (`usecases.builderhooks`, `usecases.runlogs`).
"""

from pydantic import BaseModel, ConfigDict


class Body(BaseModel):
    """Base: unknown fields are ignored, as DRF does."""

    model_config = ConfigDict(extra="allow")


class HookUserBody(Body):
    """`POST /v2/hooks/config/`: the pushing user and the app pushed to."""

    receive_user: str
    receive_repo: str


class BuildHookBody(HookUserBody):
    """`POST /v2/hooks/build/`."""

    image: str
    sha: str | None = None
    procfile: dict[str, str] | None = None
    dockerfile: str | None = None


class RunBody(Body):
    """`POST /v2/apps/<id>/run/`."""

    command: str
