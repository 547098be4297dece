"""KV bucket `endpoints`, key `<app>`: where the live release's routable processes listen.

Written by the scheduler once a rollout's new processes are healthy (and again when a process
restarts on another port); watched by the router agent, which turns it into an nginx upstream.
Only `web` (or `cmd` for image apps) is routable, so one list per app is enough.
"""

from typing import Final, Literal

from pydantic import Field

from deis_shared import appnames, processtypes, wire
from deis_shared.kv import bucket, hosts

BUCKET = "endpoints"
"""Name of the KV bucket."""


def key(app: str) -> str:
    """Key of an app's endpoints.

    Args:
        app: The app name; validated.

    Returns:
        The app name itself.

    Raises:
        InvalidAppName: `app` is not a valid app name.
    """
    return appnames.validate_app_name(app)


class Upstream(wire.Part):
    """One process that accepts traffic."""

    host: hosts.Host
    port: int = Field(ge=1, le=65535)


class Endpoints(wire.Message):
    """The upstreams of one app's routable process type. Empty list: nothing to route to."""

    schema_version: Literal[1] = Field(1, alias="schema")

    app: appnames.AppName
    version: int = Field(ge=1)
    """Release the upstreams run."""
    process_type: processtypes.Routable = "web"
    upstreams: list[Upstream]


SPEC: Final = bucket.Bucket(name=BUCKET, model=Endpoints, key=key)
"""The bucket as `deis_shared.bus.kv` reads and writes it."""
