"""KV bucket `procs`, key `<app>`: every process the scheduler runs for an app, and its state.

Written by the scheduler on every state change of a process; read by the controller to answer
`GET /v2/apps/<app>/pods/` (docs/api.md §2.6). The controller renders `release` as `v<N>` and
filters out `run` processes and those `down`, `crashed` or `destroyed`; the value lists them all
so `deis ps` semantics stay in one place.
"""

from enum import StrEnum
from typing import Final, Literal, Self

from pydantic import Field, model_validator

from deis_shared import appnames, wire
from deis_shared.kv import bucket

BUCKET = "procs"
"""Name of the KV bucket."""


def key(app: str) -> str:
    """Key of an app's processes.

    Args:
        app: The app name; validated.

    Returns:
        The app name itself.

    Raises:
        InvalidAppName: `app` is not a valid app name.
    """
    return appnames.validate_app_name(app)


class ProcessState(StrEnum):
    """States a process reports; the names Deis's pod API uses, so the controller passes them on."""

    INITIALIZING = "initializing"
    """Accepted, slug not yet fetched or unpacked."""
    CREATING = "creating"
    """Its environment and working directory are being prepared."""
    STARTING = "starting"
    """Started, not yet healthy."""
    UP = "up"
    """Running and healthy."""
    TERMINATING = "terminating"
    """Asked to stop, within its grace period."""
    DOWN = "down"
    """Stopped on purpose (scaled down, replaced by a new release)."""
    DESTROYED = "destroyed"
    """Removed; about to leave the list."""
    CRASHED = "crashed"
    """Exited on its own; waiting for a restart with backoff."""
    ERROR = "error"
    """Cannot be started (bad command, slug missing)."""


class Process(wire.Part):
    """One process (a pod on Kubernetes)."""

    name: str = Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$", max_length=253)
    """`<app>-<type>-<suffix>`; the CLI finds the type by stripping `<app>-` (docs/api.md §2.6)."""
    type: wire.ProcessType
    index: int = Field(ge=1)
    """1-based index within the type, shown in logs as `<type>.<index>`."""
    release: int = Field(ge=1)
    """Release version the process runs."""
    state: ProcessState
    started: wire.UtcDatetime | None
    """When the current incarnation started; `None` before the first start."""
    restarts: int = Field(ge=0)
    """Restarts after crashes since the process was created."""
    pid: int | None = Field(default=None, ge=1)
    """Operating-system pid (local backend); `None` when not running or not known."""
    exit_code: int | None = None
    """Exit status of the last incarnation, when it exited."""
    memory: str | None = None
    """Memory limit applied, in Deis's notation; `None` when unlimited."""
    cpu: str | None = None
    """CPU limit applied, in Deis's notation; `None` when unlimited."""


class Procs(wire.Message):
    """Every process of one app, including one-off `run` processes."""

    schema_version: Literal[1] = Field(1, alias="schema")

    app: appnames.AppName
    processes: list[Process]

    @model_validator(mode="after")
    def _names_belong_to_app(self) -> Self:
        for process in self.processes:
            if not process.name.startswith(f"{self.app}-{process.type}-"):
                raise ValueError(
                    f"process {process.name!r} is not named <app>-<type>-… "
                    f"for app {self.app!r} and type {process.type!r}"
                )
        return self


SPEC: Final = bucket.Bucket(name=BUCKET, model=Procs, key=key)
"""The bucket as `deis_shared.bus.kv` reads and writes it."""
