"""The seam between the reconciler and where processes run: `ProcessBackend`.

The reconciler knows apps, desired states and retries; a backend knows how one app's processes
are made to match a desired state, how a one-off command runs, and how processes restart.
`local` (this host's processes, `local.backend`) and `kubernetes` (a Deployment per process
type) implement it; `service` chooses one by `settings.backend`.
"""

from typing import Protocol

from deis_shared.kv import desired as desired_kv
from deis_shared.rpc import scheduler as scheduler_rpc


class AppProcesses(Protocol):
    """One app's processes under some backend."""

    @property
    def app(self) -> str:
        """The app's name."""
        ...

    async def converge(self, desired: desired_kv.DesiredState | None) -> None:
        """Make what runs match `desired` (`None`: the app is gone); idempotent.

        A restart counter of `desired.restarts` that rose since the last converge restarts
        what it names (`restart`).
        """
        ...

    async def restart(self, targets: list[str]) -> None:
        """Restart the processes `targets` name: `*` (all), a type, or a process name."""
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

    async def run(
        self, *, desired: desired_kv.DesiredState | None, request: scheduler_rpc.RunRequest
    ) -> scheduler_rpc.RunReply:
        """Run a one-off command in the release `desired` describes (`app.runs` rules).

        Raises:
            NoRelease: the app has no release with a build.
            CannotStart: the command cannot start as given.
        """
        ...
