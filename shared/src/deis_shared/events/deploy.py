"""Deploy events: the scheduler reports the rollout of a release.

Subjects: `deis.events.deploy.<app>.started`, `.succeeded`, `.failed`. The controller records
the result (a failed deploy marks the release failed); the builder waits for `succeeded` or
`failed` of the version it created to end the user's `git push`.
"""

from typing import Literal

from pydantic import Field

from deis_shared import appnames, wire

ALL_SUBJECTS = "deis.events.deploy.>"
"""Every deploy event of every app."""


def _subject(app: str, outcome: str) -> str:
    return f"deis.events.deploy.{appnames.validate_app_name(app)}.{outcome}"


def started_subject(app: str) -> str:
    """Subject of `DeployStarted` for one app.

    Args:
        app: The app name; validated.

    Returns:
        `deis.events.deploy.<app>.started`.

    Raises:
        InvalidAppName: `app` is not a valid app name.
    """
    return _subject(app, "started")


def succeeded_subject(app: str) -> str:
    """Subject of `DeploySucceeded` for one app.

    Args:
        app: The app name; validated.

    Returns:
        `deis.events.deploy.<app>.succeeded`.

    Raises:
        InvalidAppName: `app` is not a valid app name.
    """
    return _subject(app, "succeeded")


def failed_subject(app: str) -> str:
    """Subject of `DeployFailed` for one app.

    Args:
        app: The app name; validated.

    Returns:
        `deis.events.deploy.<app>.failed`.

    Raises:
        InvalidAppName: `app` is not a valid app name.
    """
    return _subject(app, "failed")


def app_subjects(app: str) -> str:
    """Wildcard matching every deploy event of one app, for a waiter such as the builder.

    Args:
        app: The app name; validated.

    Returns:
        `deis.events.deploy.<app>.*`.

    Raises:
        InvalidAppName: `app` is not a valid app name.
    """
    return _subject(app, "*")


class DeployStarted(wire.Message):
    """The scheduler began rolling out release `v<version>` of `app`."""

    schema_version: Literal[1] = Field(1, alias="schema")

    app: appnames.AppName
    version: int = Field(ge=1)
    """Release being rolled out."""
    formation: dict[wire.ProcessType, int]
    """Process type -> count the rollout aims for."""


class DeploySucceeded(wire.Message):
    """Every process of release `v<version>` of `app` is up and healthy; old ones are stopped."""

    schema_version: Literal[1] = Field(1, alias="schema")

    app: appnames.AppName
    version: int = Field(ge=1)
    duration_seconds: float = Field(ge=0)
    """From `DeployStarted` to now."""


class DeployFailed(wire.Message):
    """The rollout of release `v<version>` of `app` failed; the previous release keeps running."""

    schema_version: Literal[1] = Field(1, alias="schema")

    app: appnames.AppName
    version: int = Field(ge=1)
    reason: str
    """One line, e.g. `web.1 exited with code 1 before becoming healthy`."""
    last_lines: list[str] = Field(default_factory=list, max_length=200)
    """The failing process's last log lines, oldest first, for the pushing user."""
