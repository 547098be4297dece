"""Request-body models of config, builds and rollback for the OpenAPI document.

Validation itself is in the use cases (`app.config`, `app.builds`, `app.releases`). The config
fields also accept a string holding JSON, as upstream's form-encoded tests send them.
"""

from typing import Any

from deis_controller.api.requests import Body

JsonObject = dict[str, Any] | str
"""An object, or a string containing one (docs/api.md §1.4)."""


class ConfigBody(Body):
    """`POST /v2/apps/<id>/config/`: any subset; `null` inside a map unsets that key."""

    values: JsonObject | None = None
    memory: JsonObject | None = None
    cpu: JsonObject | None = None
    tags: JsonObject | None = None
    registry: JsonObject | None = None
    healthcheck: JsonObject | None = None


class BuildBody(Body):
    """`POST /v2/apps/<id>/builds/`."""

    image: str
    procfile: dict[str, str] | str | None = None
    sha: str | None = None
    dockerfile: str | None = None


class RollbackBody(Body):
    """`POST /v2/apps/<id>/releases/rollback/`: no body rolls back one release."""

    version: int | None = None
