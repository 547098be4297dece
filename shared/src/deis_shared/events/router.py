"""Router events: a router agent reports whether nginx took a new configuration.

Subjects: `deis.events.router.applied` and `deis.events.router.rejected` (not per app: one
nginx configuration covers every app). Each agent counts its own revisions, so `agent` names
which router instance speaks.
"""

from typing import Literal

from pydantic import Field

from deis_shared import appnames, wire

ALL_SUBJECTS = "deis.events.router.>"
"""Both router events."""

APPLIED_SUBJECT = "deis.events.router.applied"
"""Subject of `RouterApplied`."""

REJECTED_SUBJECT = "deis.events.router.rejected"
"""Subject of `RouterRejected`."""


class RouterApplied(wire.Message):
    """nginx on router `agent` is serving configuration `revision`."""

    schema_version: Literal[1] = Field(1, alias="schema")

    agent: str = Field(min_length=1, max_length=253)
    """Router agent instance (host or pod name)."""
    revision: int = Field(ge=1)
    """The agent's configuration counter, increasing with every rendered config."""
    latency_seconds: float = Field(ge=0)
    """From the KV change that triggered the render to nginx's reload."""
    apps: list[appnames.AppName]
    """Apps whose routes or endpoints changed in this revision."""
    versions: dict[appnames.AppName, int] = Field(default_factory=dict)
    """For the apps of `apps` whose new configuration went live with endpoints: the release
    those endpoints run. The builder waits for its release here before it says "done"."""
    routes: list[appnames.AppName] | None = None
    """The apps of `apps` whose routes (KV `routes`) changed in this revision: a change of
    routing, maintenance or whitelist is served once an event names the app here (an event
    of endpoints alone names it in `apps` only). `None` from routers that predate the field."""


class RouterRejected(wire.Message):
    """`nginx -t` refused configuration `revision` on router `agent`; the previous one stays."""

    schema_version: Literal[1] = Field(1, alias="schema")

    agent: str = Field(min_length=1, max_length=253)
    revision: int = Field(ge=1)
    app: appnames.AppName | None
    """The app whose server block nginx refused; `None` when it cannot be pinned on one app."""
    message: str
    """nginx's error output."""
