"""The local backend: apps' processes on this host, recorded in the data dir for adoption."""

from deis_scheduler.app.backend import AppProcesses
from deis_scheduler.local import oneoff
from deis_scheduler.local.context import LocalContext
from deis_scheduler.local.runtime import AppRuntime
from deis_shared.kv import desired as desired_kv
from deis_shared.rpc import scheduler as scheduler_rpc


class LocalBackend:
    """Processes on this host, recorded in the data dir so that they can be adopted."""

    def __init__(self, ctx: LocalContext) -> None:
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

    async def run(
        self, *, desired: desired_kv.DesiredState | None, request: scheduler_rpc.RunRequest
    ) -> scheduler_rpc.RunReply:
        """Run a one-off command in the app's sandbox (`local.oneoff`)."""
        return await oneoff.run(self._ctx, desired=desired, request=request)
