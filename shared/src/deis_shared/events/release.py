"""Release events: the controller announces each new release of an app.

Subject: `deis.events.release.<app>.created`. The builder (a waiting push) and the controller
(a waiting request) listen for it. The release's desired state itself travels in KV
`desired`, not here.
"""

from typing import Literal
from uuid import UUID

from pydantic import Field

from deis_shared import appnames, wire

ALL_SUBJECTS = "deis.events.release.>"
"""Every release event of every app."""

CREATED_SUBJECTS = "deis.events.release.*.created"
"""Created releases of every app."""


def created_subject(app: str) -> str:
    """Subject of `ReleaseCreated` for one app.

    Args:
        app: The app name; validated.

    Returns:
        `deis.events.release.<app>.created`.

    Raises:
        InvalidAppName: `app` is not a valid app name.
    """
    return f"deis.events.release.{appnames.validate_app_name(app)}.created"


class ReleaseCreated(wire.Message):
    """Release `v<version>` of `app` exists (docs/api.md §3.3 says what triggers one)."""

    schema_version: Literal[1] = Field(1, alias="schema")

    app: appnames.AppName
    release_id: UUID
    """The controller's Release uuid."""
    version: int = Field(ge=1)
    """Release number, shown as `v<version>`."""
    summary: str
    """Human summary, e.g. `bob deployed abc1234`."""
    owner: wire.Username
    """The user whose action created the release (for a config change, the one who set it)."""
    build_sha: str | None = Field(default=None, pattern=r"^[0-9a-f]{7,40}$")
    """Git sha of the release's build; `None` when the release has no build (v1, image builds)."""
    created: wire.UtcDatetime
    """When the release row was committed."""
