"""A request that makes a release answers once the release runs: the truth about the rollout.

As Deis Workflow did (docs/api.md §2.3 to §2.5), `config:set`, `deis pull` and `rollback`
answer only when the scheduler has rolled the new release out and the router serves it, within
`rollout_wait` seconds:

- success: the usual answer;
- failure: 400 with the scheduler's reason and the failing process's last lines; the release
  is marked failed here before the answer (the deploy consumer would do it too), and the
  previous release keeps serving;
- deadline passed: 503 saying that the rollout goes on.

The watch subscribes before the change is made (`deis_shared.rollouts`), and while no event
comes it looks at KV `procs` every few seconds, so a restarted scheduler cannot leave a request
waiting on an event that was lost. A second change of an app while one waits for its rollout
gets 409, as Deis answers a deployment already in progress. A release with nothing to run (no
build yet, or no process in the formation) is answered at once. `rollout_wait` 0 answers at
once always (the controller's own tests, with no scheduler).

A scale and a pods restart wait the same way (`settled`), within the same deadline and under
the same 409, but no event marks their end: they make no release, so the scheduler reports no
deploy for them. KV `procs` is their only signal, looked at every `PROCS_CHECK_EVERY` seconds
and judged by `settling` against the processes noted before the change (`note_processes`). A
process of the change that crashes fails it (400 with its exit code and its last lines, read
from the app's log).

A change of how the router serves an app (settings, whitelist, TLS: `rollout(...,
routing=True)`) waits under the same 409 for the router to say it serves it (`routed`, see
`rerouting`), within `route_wait` seconds as a rolled-out release waits for the router; a
router silent by then gets the answer a release gets: the change is made and answered as made
(logged, no error), since nothing is left for the user to do.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, Final

import asyncpg

from deis_controller import errors
from deis_controller.usecases import deploys, pods, rerouting, runlogs, settling
from deis_controller.usecases.context import Context
from deis_controller.usecases.records import App
from deis_shared import rollouts
from deis_shared.events import deploy as deploy_events
from deis_shared.kv import procs as procs_kv, routes as routes_kv

logger = logging.getLogger(__name__)

LAST_LINES = 20
"""Lines of the failing process shown in a refused request's detail."""

PROCS_CHECK_EVERY: Final = 0.25
"""Seconds between looks at KV `procs` while a scale or restart settles (no event comes)."""

TAIL_LINES: Final = 500
"""Lines of the app's log searched for a crashed process's last lines."""

LINES_LATE: Final = 0.5
"""Seconds given to a crashed process's lines to reach the log when the first tail has none."""

Judge = Callable[[list[procs_kv.Process]], settling.Verdict]
"""One look at KV `procs` judged: see `settling`."""

_rolling: set[str] = set()
"""Apps with a request waiting for its rollout, in this controller."""

_ROUTES_UNSENT = """
SELECT EXISTS (
    SELECT 1 FROM outbox WHERE bucket = $1 AND key = $2 AND sent_at IS NULL AND dead_at IS NULL
)
"""
"""Whether the outbox still holds routes of the app to write (`deis_shared.outbox`'s table,
the controller's own: its index `outbox_pending_keys` answers this)."""

_LATEST = """
SELECT r.version, r.build_uuid, a.structure FROM releases r JOIN apps a ON a.uuid = r.app_uuid
WHERE r.app_uuid = $1 ORDER BY r.version DESC LIMIT 1
"""


class Waiter:
    """The events of one app, from before the change to the answer."""

    def __init__(
        self,
        ctx: Context,
        *,
        app: App,
        watch: rollouts.DeployWatch | None,
        router: rerouting.RouterWatch | None = None,
    ) -> None:
        """Wait on `watch` (None: answer at once) and `router` (a change of the app's routes)."""
        self._ctx = ctx
        self._app = app
        self._watch = watch
        self._router = router
        self.before: dict[str, procs_kv.Process] = {}
        """The app's processes by name when `note_processes` looked."""

    @property
    def waits(self) -> bool:
        """Whether the answer waits for the outcome (false: answered at once)."""
        return self._watch is not None

    async def note_processes(self) -> None:
        """Look at the app's processes before a scale or restart, which `settled` judges by."""
        if self._watch is None:
            return
        try:
            found = await pods.processes_of(self._ctx, app_id=self._app.id)
        except errors.ServiceUnavailable:
            found = []
        self.before = {process.name: process for process in found}

    async def settled(self, judge: Judge, *, doing: str) -> settling.Running | None:
        """Look at KV `procs` until `judge` says the change runs; None when not waiting.

        Args:
            judge: the verdict on one look (`settling.scaled`, `settling.restarted`).
            doing: what the change is, for the messages (`scaling web=3`).

        Raises:
            BadRequest: a process of the change crashed: its exit code and last lines.
            ServiceUnavailable: not settled within `rollout_wait` seconds.
        """
        if self._watch is None:
            return None
        seconds = self._ctx.settings.rollout_wait
        deadline = time.monotonic() + seconds
        while True:
            try:
                verdict = judge(await pods.processes_of(self._ctx, app_id=self._app.id))
            except errors.ServiceUnavailable:
                verdict = None
            if isinstance(verdict, settling.Running):
                return verdict
            if isinstance(verdict, settling.Crash):
                lines = "".join(f"\n  {line}" for line in await self._last_lines(verdict))
                raise errors.BadRequest(f"{doing} failed: {verdict.reason()}{lines}")
            left = deadline - time.monotonic()
            if left <= 0:
                raise errors.ServiceUnavailable(
                    f"{doing} of {self._app.id} is still going on after {seconds:.0f} s;"
                    " it goes on: see `deis ps`"
                )
            await asyncio.sleep(min(PROCS_CHECK_EVERY, left))

    async def routed(self) -> bool:
        """Wait until the router serves the app's changed routes; whether it said so in time.

        An `applied` naming the app counts once the change's routes are in KV `routes`: once
        the outbox holds no unsent routes of the app (the change committed before this wait).
        """
        router, ctx = self._router, self._ctx
        if router is None:
            return False

        async def ready() -> bool:
            async with ctx.pool.acquire() as conn:
                pending = await conn.fetchval(_ROUTES_UNSENT, routes_kv.BUCKET, self._app.id)
            return not pending

        seconds = min(ctx.settings.route_wait, ctx.settings.rollout_wait)
        served = await router.applied(deadline=time.monotonic() + seconds, ready=ready)
        if not served:
            logger.warning(
                "the router did not say it serves the new routes of %s within %.1f s",
                self._app.id,
                seconds,
            )
        return served

    async def _last_lines(self, crash: settling.Crash) -> list[str]:
        """The crashed process's last lines, as the app's log has them (none if unreadable).

        Lines travel to the log apart from KV `procs`, so a tail without any is tried once more.
        """
        marker = f" {self._app.id}[{crash.label}]: "
        for attempt in range(2):
            if attempt:
                await asyncio.sleep(LINES_LATE)
            try:
                tail = await runlogs.tail(ctx=self._ctx, app_id=self._app.id, lines=TAIL_LINES)
            except runlogs.LogsUnavailable:
                return []
            found = [line.split(marker, 1)[1] for line in tail if marker in line]
            if found:
                return found[-LAST_LINES:]
        return []

    async def released(self) -> None:
        """Wait for the app's newest release to run and be served.

        Raises:
            BadRequest: the rollout failed; the release is marked failed.
            ServiceUnavailable: the rollout did not end within `rollout_wait` seconds.
        """
        watch, ctx = self._watch, self._ctx
        if watch is None:
            return
        async with ctx.pool.acquire() as conn:
            latest = await conn.fetchrow(_LATEST, self._app.uuid)
        if latest is None or latest["build_uuid"] is None:
            return
        version = int(latest["version"])
        formation = {k: int(v) for k, v in (latest["structure"] or {}).items() if int(v) > 0}
        if not formation:
            return
        seconds = ctx.settings.rollout_wait
        deadline = time.monotonic() + seconds

        async def check() -> rollouts.Outcome | None:
            return await self._running(version=version, formation=formation)

        try:
            outcome = await watch.outcome(version=version, deadline=deadline, check=check)
        except rollouts.NoRollout:
            raise errors.ServiceUnavailable(
                f"v{version} of {self._app.id} is still rolling out after {seconds:.0f} s;"
                " the rollout goes on: see `deis releases` and `deis ps`"
            ) from None
        if isinstance(outcome, deploy_events.DeployFailed):
            async with ctx.pool.acquire() as conn:
                await deploys.deploy_failed(_connection(conn), ctx=ctx, event=outcome)
            lines = "".join(f"\n  {line}" for line in outcome.last_lines[-LAST_LINES:])
            raise errors.BadRequest(f"v{version} failed to deploy: {outcome.reason}{lines}")
        served_by = min(deadline, time.monotonic() + ctx.settings.route_wait)
        await watch.served(version=version, deadline=served_by)

    async def _running(self, *, version: int, formation: dict[str, int]) -> rollouts.Outcome | None:
        """What KV `procs` says: success once the formation runs `version`, every one up."""
        try:
            found = await pods.processes_of(self._ctx, app_id=self._app.id)
        except errors.ServiceUnavailable:
            return None
        up: dict[str, int] = {}
        for process in found:
            if process.release == version and process.state == procs_kv.ProcessState.UP:
                up[process.type] = up.get(process.type, 0) + 1
        if all(up.get(kind, 0) >= count for kind, count in formation.items()):
            return deploy_events.DeploySucceeded(
                app=self._app.id, version=version, duration_seconds=0.0
            )
        return None


@contextlib.asynccontextmanager
async def rollout(ctx: Context, *, app: App, routing: bool = False) -> AsyncIterator[Waiter]:
    """Listen to `app`'s events around a change that makes a release.

    Args:
        ctx: the controller's resources.
        app: the app changed.
        routing: listen to the router instead: a change of the app's routes (`routed`).

    Raises:
        Conflict: another request waits for a rollout of the app.
    """
    if ctx.settings.rollout_wait <= 0 or ctx.nc is None or not ctx.nc.is_connected:
        yield Waiter(ctx, app=app, watch=None)
        return
    if app.id in _rolling:
        raise errors.Conflict(f"Deployment for {app.id} is already in progress")
    _rolling.add(app.id)
    try:
        if routing:
            async with rerouting.watch(ctx.nc, app=app.id) as router:
                yield Waiter(ctx, app=app, watch=None, router=router)
        else:
            async with rollouts.watch(ctx.nc, app=app.id) as watch:
                yield Waiter(ctx, app=app, watch=watch)
    finally:
        _rolling.discard(app.id)


def _connection(conn: Any) -> asyncpg.Connection:
    # A pool proxy forwards every Connection method.
    return conn  # type: ignore[no-any-return]
