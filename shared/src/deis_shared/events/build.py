"""Build events: the builder tells the controller a slug is ready, or that a build failed.

Subjects: `deis.events.build.<app>.completed` and `deis.events.build.<app>.failed`, from the
builder; the controller consumes the completed ones to create Build and Release rows. When it
refuses to release a completed build (the app or the user is gone, a Procfile it cannot take),
the controller says so on `deis.events.build.<app>.refused` (through its outbox), which the push
that waits for the release reads, so that it ends at once with the reason.
"""

from typing import Literal
from uuid import UUID

from pydantic import Field

from deis_shared import appnames, wire

ALL_SUBJECTS = "deis.events.build.>"
"""Every build event of every app."""

COMPLETED_SUBJECTS = "deis.events.build.*.completed"
"""Completed builds of every app."""

FAILED_SUBJECTS = "deis.events.build.*.failed"
"""Failed builds of every app."""

REFUSED_SUBJECTS = "deis.events.build.*.refused"
"""Completed builds of every app that the controller refused to release."""


def completed_subject(app: str) -> str:
    """Subject of `BuildCompleted` for one app.

    Args:
        app: The app name; validated.

    Returns:
        `deis.events.build.<app>.completed`.

    Raises:
        InvalidAppName: `app` is not a valid app name.
    """
    return f"deis.events.build.{appnames.validate_app_name(app)}.completed"


def failed_subject(app: str) -> str:
    """Subject of `BuildFailed` for one app.

    Args:
        app: The app name; validated.

    Returns:
        `deis.events.build.<app>.failed`.

    Raises:
        InvalidAppName: `app` is not a valid app name.
    """
    return f"deis.events.build.{appnames.validate_app_name(app)}.failed"


def refused_subject(app: str) -> str:
    """Subject of `BuildRefused` for one app.

    Args:
        app: The app name; validated.

    Returns:
        `deis.events.build.<app>.refused`.

    Raises:
        InvalidAppName: `app` is not a valid app name.
    """
    return f"deis.events.build.{appnames.validate_app_name(app)}.refused"


class BuildCompleted(wire.Message):
    """A slug for `sha` of `app` is in the object store under `slug_key`.

    Only slug (buildpack) builds exist here; Dockerfile and image builds of upstream Deis are
    left out until a backend can run them.
    """

    schema_version: Literal[1] = Field(1, alias="schema")

    app: appnames.AppName
    build_id: UUID
    """The builder's id of this build (its push history); the controller's Build uuid may differ."""
    sha: str = Field(pattern=r"^[0-9a-f]{7,40}$")
    """Git commit that was built (the builder sends the 7-character short form)."""
    slug_key: str = Field(min_length=1)
    """Object-store key of the slug tarball, `slugs/<app>/<sha>.tar.gz`."""
    procfile: dict[wire.ProcessType, str]
    """Process type -> command, from the repo's Procfile or the buildpack's default."""
    user: wire.Username
    """Who pushed."""


class BuildFailed(wire.Message):
    """The build of `sha` for `app` failed; the push was rejected."""

    schema_version: Literal[1] = Field(1, alias="schema")

    app: appnames.AppName
    build_id: UUID
    sha: str = Field(pattern=r"^[0-9a-f]{7,40}$")
    user: wire.Username
    reason: str
    """One line for the user, e.g. `no buildpack detected`."""


class BuildRefused(wire.Message):
    """The controller will not release the completed build `build_id`: no release follows."""

    schema_version: Literal[1] = Field(1, alias="schema")

    app: appnames.AppName
    build_id: UUID
    """The builder's id of the build, as `BuildCompleted` gave it."""
    sha: str = Field(pattern=r"^[0-9a-f]{7,40}$")
    user: wire.Username
    """Who pushed."""
    reason: str
    """One line for the user: `app web-1 was deleted during the push: nothing was released`."""
