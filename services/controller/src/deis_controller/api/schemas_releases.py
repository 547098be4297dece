"""Response models of config, builds and releases for the OpenAPI document (docs/api.md §3.1).

Like `api.schemas`, these only document: routes answer hand-built JSON, checked against these
by the schemathesis test.
"""

from typing import Any

from pydantic import BaseModel


class ConfigOut(BaseModel):
    """An app's config: environment, limits, tags, registry and healthchecks."""

    uuid: str
    owner: str
    app: str
    values: dict[str, str]
    memory: dict[str, str]
    cpu: dict[str, str]
    tags: dict[str, str]
    registry: dict[str, str]
    healthcheck: dict[str, dict[str, dict[str, Any]]]
    """Process type (or `web/cmd`) -> probe name -> probe."""
    created: str
    updated: str


class BuildOut(BaseModel):
    """A build: the image (or slug) and Procfile of one deploy."""

    uuid: str
    owner: str
    app: str
    image: str
    sha: str
    procfile: dict[str, str]
    dockerfile: str
    created: str
    updated: str


class ReleaseOut(BaseModel):
    """A release: one build with one config, numbered `v<version>`."""

    uuid: str
    owner: str
    app: str
    version: int
    summary: str
    failed: bool
    config: str
    """The config's uuid."""
    build: str | None
    """The build's uuid; `null` before the first build."""
    created: str
    updated: str


class RollbackOut(BaseModel):
    """The release a rollback created."""

    version: int
