"""The seam between the reconciler and where processes run: `ProcessBackend`.

The reconciler knows apps, desired states and retries; a backend knows how one app's processes
are made to match a desired state. `local` (this host's processes, `runtime.AppRuntime`) is
the one there is; a Kubernetes backend (a Deployment per process type) fits the same shape.
"""

from typing import Protocol

from deis_scheduler.app.context import Context
from deis_scheduler.app.runtime import AppRuntime
from deis_shared.kv import desired as desired_kv


class AppProcesses(Protocol):
    """One app's processes under some backend."""

    @property
    def app(self) -> str:
        """The app's name."""
        ...

    async def converge(self, desired: desired_kv.DesiredState | None) -> None:
        """Make what runs match `desired` (`None`: the app is gone); idempotent."""
        ...

    async def refuse(self, *, version: int, reason: str) -> None:
        """Fail release `version` without running it (its desired state cannot be read)."""
        ...

    async def shutdown(self) -> None:
        """Stop every process: the scheduler leaves and takes the app with it."""
        ...

    async def detach(self) -> None:
        """Let the processes run on without this scheduler, for the next one to adopt."""
        ...


class ProcessBackend(Protocol):
    """Where apps' processes run."""

    def app(self, name: str) -> AppProcesses:
        """A fresh handle on app `name`, running nothing yet."""
        ...

    async def adopt(self) -> list[AppProcesses]:
        """Take over what previous schedulers left running; one handle per app found."""
        ...


class LocalBackend:
    """Processes on this host, recorded in the data dir so that they can be adopted."""

    def __init__(self, ctx: Context) -> None:
        """Run processes with the scheduler's settings and clients."""
        self._ctx = ctx

    def app(self, name: str) -> AppRuntime:
        """A runtime for app `name`."""
        return AppRuntime(self._ctx, app=name)

    async def adopt(self) -> list[AppProcesses]:
        """Adopt every app with a process record on this host."""
        found: list[AppProcesses] = []
        for record in self._ctx.records.load():
            runtime = AppRuntime(self._ctx, app=record.app)
            await runtime.adopt(record)
            found.append(runtime)
        return found
