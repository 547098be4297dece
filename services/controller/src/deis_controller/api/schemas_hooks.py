"""Response models of the builder hooks, `run` and `logs` for the OpenAPI document (§2.2, §2.12).

As in `api.schemas`, routes build their JSON by hand; these only document it.
"""

from typing import Any

from pydantic import BaseModel


class KeyOwnerOut(BaseModel):
    """Who owns an SSH key, and the apps they may use."""

    username: str
    apps: list[str]


class HookConfigOut(BaseModel):
    """The config of the app's latest non-failed release."""

    uuid: str
    owner: str
    app: str
    values: dict[str, str]
    memory: dict[str, str]
    cpu: dict[str, str]
    tags: dict[str, str]
    registry: dict[str, str]
    healthcheck: dict[str, Any]
    created: str
    updated: str


class ReleaseVersionOut(BaseModel):
    """A release, by its version only."""

    version: int


class BuildHookOut(BaseModel):
    """The release a build hook created."""

    release: ReleaseVersionOut


class HookKeyOut(BaseModel):
    """One SSH key of a user."""

    key: str
    fingerprint: str


class RunOut(BaseModel):
    """How a one-off process ended."""

    exit_code: int
    output: str
