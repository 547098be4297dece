"""One app on this host: converge its processes on its desired state.

`converge` is level-triggered and idempotent: it looks at the latest desired state and at what
runs, and does only what differs.

- A new release is rolled out without downtime: its processes start beside the old ones, each
  on a port of its own; once every web process accepts connections (or answers its readiness
  path) and every other process has stayed up for `settle_seconds`, `endpoints` switches to
  the new web processes and `deploy.succeeded` is published; after `drain_seconds` (the router
  switches meanwhile) the old processes stop (SIGTERM, grace, SIGKILL). If any new
  process exits or is not healthy before `deploy_timeout`, the new ones stop, the old keep
  serving, and `deploy.failed` carries the reason and the process's last lines. A failed
  version is not tried again; the next release is.
- The same release with another formation scales: missing (type, index) start (web ones join
  `endpoints` once healthy), extra ones leave `endpoints` and then stop.
- No desired state (the app was deleted): everything stops, its files and KV values go.

A converge that fails, whatever the exception, first stops what it started (`_starting`: the
processes of an unfinished rollout or scale-up, `_pending`, stop and the record says so), so a
retry never finds them still running. What happens next follows `errors`: during a rollout, a
`PermanentError` (a limit that cannot be parsed, a slug that does not unpack, a process that
cannot start or never becomes healthy) fails that release once (`reporting`); anything else
goes up to the reconciler, which retries it. Replaced processes stop only once a converge has
published `endpoints` without them (`_retire_replaced`), so a converge that failed after the
switch but before that publish retires them on its retry.

Every change is written to the app's process record (`local.records`) before the next step, so
a scheduler that restarts, gracefully or after a kill -9, `adopt`s the processes it finds
running instead of starting them twice, and kills what an unfinished rollout left behind.
When the scheduler stops it may `detach` (the processes run on) or `shutdown` (they stop).

Why over 400 lines: rollout, scale, restart, retirement and adoption all change the same three
lists of processes (live, pending, retiring) under one lock and write the same record; what
does not touch them lives apart (`launching`, `reporting`, `processes`).
"""

import asyncio
import contextlib
import logging
import shutil
import time
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

from deis_scheduler import errors
from deis_scheduler.app import facts, reporting, restarts
from deis_scheduler.local import cgroups, health, launching, records, sandboxing, supervision
from deis_scheduler.local.context import LocalContext
from deis_scheduler.local.processes import Identity
from deis_scheduler.local.supervision import Proc, State
from deis_shared import processtypes
from deis_shared.events import deploy as deploy_events
from deis_shared.kv import desired as desired_kv, endpoints as endpoints_kv, procs as procs_kv

logger = logging.getLogger(__name__)

IMAGE_RELEASES_UNSUPPORTED = (
    "image releases (deis pull) run only on the Kubernetes backend; this scheduler runs slugs"
    " on its own host"
)

Key = tuple[str, int]


class AppRuntime:
    """The processes of one app, and the last state published for it."""

    def __init__(self, ctx: LocalContext, *, app: str) -> None:
        self._ctx = ctx
        self.app = app
        """The app's name."""
        self.procs: dict[Key, Proc] = {}
        self.version: int | None = None
        """The release the processes run (the live release)."""
        self.failed: set[int] = set()
        self._endpoints: list[endpoints_kv.Upstream] | None = None
        self._endpoints_sequence = 0
        """KV `endpoints` stream sequence of the last put of this app's endpoints."""
        self._restarts_seen: dict[str, int] | None = None
        """Restart counters already acted on; `None` until the first look (the baseline)."""
        self._pending: list[Proc] = []
        """Started by an unfinished rollout or scale-up, not yet serving."""
        self._retiring: list[Proc] = []
        """Replaced, waiting to be stopped."""
        self._retirements: set[asyncio.Task[None]] = set()
        """Drains in progress: old processes stop after `drain_seconds`, outside the lock, so
        that the next release's rollout need not wait for them."""
        self._draining: set[int] = set()
        """`id()`s of the `_retiring` processes a drain in progress has taken."""
        self._reports = reporting.Reports(app=app, js=ctx.js, log=ctx.shipper)
        self._lock = asyncio.Lock()

    async def converge(self, desired: desired_kv.DesiredState | None) -> None:
        """Make what runs match `desired` (`None`: the app is gone)."""
        async with self._lock:
            if desired is None:
                await self._end_retirements()
                await self._stop(self._everything())
                self.procs, self.version, self._endpoints = {}, None, None
                self._pending, self._retiring = [], []
                self._reports.forget()
                await facts.forget(self._ctx.js, app=self.app)
                await self._ctx.slugs.remove_app(self.app)
                self._ctx.records.remove(self.app)
                if self._ctx.cpu is not None:
                    cgroups.release_app(self._ctx.cpu, app=self.app)
                await asyncio.to_thread(shutil.rmtree, self._output_dir(), ignore_errors=True)
                return
            if desired.image is not None:
                self._refuse_image(desired)
                await self.publish_procs()
            elif desired.build is None:
                await self._retire_all(desired)
            else:
                formation = {
                    kind: count
                    for kind, count in desired.formation.items()
                    if count > 0 and kind in desired.build.procfile
                }
                due, self._restarts_seen = restarts.due(self._restarts_seen, desired)
                if self.version != desired.release.version:
                    if desired.release.version not in self.failed:
                        await self._rollout(desired, formation)
                else:
                    await self._scale(desired, formation)
                    await self._restart_now(due)
                await self._publish_endpoints(desired)
                await self.publish_procs()
                self._retire_replaced()
            await self._reports.flush()

    def _refuse_image(self, desired: desired_kv.DesiredState) -> None:
        """Fail an image release once: this host runs slugs only; the live release runs on."""
        version = desired.release.version
        if version == self.version or version in self.failed:
            return
        self.failed.add(version)
        self._reports.failed(
            deploy_events.DeployFailed(
                app=self.app, version=version, reason=IMAGE_RELEASES_UNSUPPORTED
            )
        )

    async def refuse(self, *, version: int, reason: str) -> None:
        """Fail release `version`, whose desired state cannot be read: reported once, not run.

        The live release is not failed for it: its processes run on, and the reason goes to
        the app's log.
        """
        async with self._lock:
            if version == self.version:
                self._reports.refused(f"v{version} cannot be applied: {reason}")
                return
            if version not in self.failed:
                self.failed.add(version)
                self._save()
                logger.warning("release v%d of %s failed: %s", version, self.app, reason)
                self._reports.failed(
                    deploy_events.DeployFailed(app=self.app, version=version, reason=reason)
                )
            await self._reports.flush()

    async def shutdown(self) -> None:
        """Stop every process (the scheduler is stopping, and takes the apps with it)."""
        async with self._lock:
            await self._end_retirements()
            await self._stop(self._everything())
            self.procs = {}
            self._save()

    async def detach(self) -> None:
        """Leave the live processes running for the next scheduler to adopt; stop the rest."""
        async with self._lock:
            await self._end_retirements()
            for proc in self.procs.values():
                await proc.detach()
            await self._stop(self._pending + self._retiring)
            self._pending, self._retiring = [], []
            self._save()

    async def adopt(self, record: records.AppRecord) -> None:
        """Take over what a previous scheduler left running, as its record says.

        Live processes that still run are supervised again, on their ports; those that died
        meanwhile are left out, so the next converge starts them afresh; what an unfinished
        rollout or scale-up left behind is stopped.
        """
        async with self._lock:
            self.version, self.failed = record.version, set(record.failed)
            self._restarts_seen = record.restarts_seen
            leftovers: list[Proc] = []
            for entry in record.processes:
                proc = Proc.from_record(
                    entry,
                    app=self.app,
                    output_dir=self._output_dir(),
                    cpu_control=self._ctx.cpu,
                    last_lines=self._ctx.settings.last_lines,
                    sandbox=sandboxing.app_sandbox(
                        self._ctx.uids,
                        app=self.app,
                        release_dir=entry.cwd,
                        max_processes=self._ctx.settings.max_app_processes,
                    ),
                )
                adopted = (
                    entry.pid is not None
                    and entry.start_ticks is not None
                    and await proc.adopt(Identity(entry.pid, entry.start_ticks), on_line=self._line)
                )
                if not adopted:
                    logger.warning("%s %s ended while no scheduler watched", self.app, proc.label)
                elif entry.role == "live":
                    self.procs[(proc.type, proc.index)] = proc
                else:
                    leftovers.append(proc)
            logger.info("%s: adopted %d running processes", self.app, len(self.procs))
            self._supervise(self.procs.values())
            await self._stop(leftovers)
            await self.publish_procs()

    async def publish_procs(self) -> None:
        """Write every process's state to KV `procs` (and to the app's process record)."""
        self._save()
        statuses = [proc.status() for _, proc in sorted(self.procs.items())]
        await facts.procs(self._ctx.js, value=procs_kv.Procs(app=self.app, processes=statuses))

    def _save(self) -> None:
        roles: list[tuple[records.Role, Proc]] = [
            *(("live", proc) for _, proc in sorted(self.procs.items())),
            *(("pending", proc) for proc in self._pending),
            *(("retiring", proc) for proc in self._retiring),
        ]
        self._ctx.records.save(
            records.AppRecord(
                app=self.app,
                version=self.version,
                failed=sorted(self.failed),
                restarts_seen=self._restarts_seen,
                processes=[proc.record(role) for role, proc in roles],
            )
        )

    def _retire_replaced(self) -> None:
        """Stop, after the drain, the `_retiring` processes no drain has taken yet.

        Called once a converge has published `endpoints`, which then no longer name them.
        """
        waiting = [proc for proc in self._retiring if id(proc) not in self._draining]
        if not waiting:
            return
        self._draining.update(id(proc) for proc in waiting)
        task = asyncio.create_task(self._drain_and_stop(waiting), name=f"retire-{self.app}")
        self._retirements.add(task)
        task.add_done_callback(self._retirements.discard)

    async def _drain_and_stop(self, procs: list[Proc]) -> None:
        try:
            if any(proc.type in processtypes.ROUTABLE for proc in procs):
                await self._routers_moved(self._endpoints_sequence)
                await asyncio.sleep(self._ctx.settings.drain_seconds)
            await self._stop(procs)
            done = {id(proc) for proc in procs}
            self._retiring = [proc for proc in self._retiring if id(proc) not in done]
            self._draining -= done
            await self.publish_procs()
        except Exception:  # a failed publish: the next converge publishes again
            logger.exception("retiring old processes of %s", self.app)

    async def _routers_moved(self, sequence: int) -> None:
        """Wait until every live router serves the endpoints put `sequence`.

        Or until the deadline passed: then the app's log names the routers that were behind.
        """
        seconds = self._ctx.settings.router_wait_seconds
        served = await self._ctx.routers.served(sequence, seconds=seconds)
        if not served.everywhere:
            self._reports.refused(
                f"old processes stop now: router(s) {', '.join(served.lagging)} did not take"
                f" the new endpoints within {seconds:g} s"
            )
            self._reports.applied()

    async def _end_retirements(self) -> None:
        """Cancel the drains in progress; their processes stay in `_retiring`."""
        tasks = list(self._retirements)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._draining.clear()

    @contextlib.asynccontextmanager
    async def _starting(self) -> AsyncIterator[None]:
        """Whatever exception ends the block, the processes it started (`_pending`) stop."""
        try:
            yield
        except BaseException:
            pending, self._pending = self._pending, []
            await self._stop(pending)
            self._save()
            raise

    def _everything(self) -> list[Proc]:
        return [*self.procs.values(), *self._pending, *self._retiring]

    def _output_dir(self) -> Path:
        return launching.output_dir(self._ctx, app=self.app)

    async def restart(self, targets: list[str]) -> None:
        """Restart the processes `targets` name (`*`, a type, a process name), one at a time."""
        async with self._lock:
            await self._restart_now(targets)
            await self._reports.flush()

    async def _restart_now(self, targets: list[str]) -> None:
        """Restart the matching processes one at a time, on their own ports."""
        if not targets:
            return
        for proc in [p for _, p in sorted(self.procs.items())]:
            if not any(target in ("*", proc.type, proc.name) for target in targets):
                continue
            await proc.stop(grace=self._ctx.settings.stop_grace)
            proc.stopping = False
            try:
                await proc.start(on_line=self._line)
            except errors.CannotRun as exc:
                # It cannot come back: it leaves, and scaling up tries again at each converge.
                del self.procs[(proc.type, proc.index)]
                self._reports.refused(f"{proc.label} was stopped and cannot restart: {exc}")
                await self.publish_procs()
                continue
            if proc.type in processtypes.ROUTABLE:
                deadline = time.monotonic() + self._ctx.settings.deploy_timeout
                try:
                    await supervision.ready(
                        proc, host=self._ctx.settings.process_host, path=None, deadline=deadline
                    )
                except health.NotReady:
                    logger.warning("%s %s did not come back after a restart", self.app, proc.label)
            proc.state = State.UP
            self._supervise([proc])
            await self.publish_procs()

    async def _retire_all(self, desired: desired_kv.DesiredState) -> None:
        await self._stop(self.procs.values())
        self.procs, self.version = {}, desired.release.version
        await self._publish_endpoints(desired)
        await self.publish_procs()

    async def _rollout(self, desired: desired_kv.DesiredState, formation: dict[str, int]) -> None:
        settings, version = self._ctx.settings, desired.release.version
        began = time.monotonic()
        await facts.event(
            self._ctx.js,
            subject=deploy_events.started_subject(self.app),
            value=deploy_events.DeployStarted(app=self.app, version=version, formation=formation),
        )
        try:
            async with self._starting():
                new = await self._start(desired, keys=_keys(formation))
                await self._healthy(desired, new.values(), deadline=began + settings.deploy_timeout)
        except errors.PermanentError as exc:
            self.failed.add(version)
            self._save()
            lines = exc.last_lines if isinstance(exc, errors.RolloutFailed) else []
            logger.warning("rollout of %s v%d failed: %s", self.app, version, exc)
            self._reports.failed(
                deploy_events.DeployFailed(
                    app=self.app, version=version, reason=str(exc), last_lines=lines
                )
            )
            return
        old, self.procs, self.version = self.procs, new, version
        self._pending = []
        self._retiring.extend(old.values())
        self._save()
        self._supervise(new.values())
        # Reported at the end of the converge, once `endpoints` name the new processes; the
        # old ones retire then too.
        self._reports.succeeded(
            deploy_events.DeploySucceeded(
                app=self.app, version=version, duration_seconds=time.monotonic() - began
            )
        )

    async def _scale(self, desired: desired_kv.DesiredState, formation: dict[str, int]) -> None:
        wanted = set(_keys(formation))
        extra = [key for key in self.procs if key not in wanted]
        missing = sorted(wanted - set(self.procs))
        if missing:
            await self._scale_up(desired, keys=missing)
        if extra:
            leaving = [self.procs.pop(key) for key in extra]
            self._retiring.extend(leaving)
            self._save()
            await self._publish_endpoints(desired)

    async def _scale_up(self, desired: desired_kv.DesiredState, *, keys: list[Key]) -> None:
        """Start `keys` of the live release; what cannot start is stopped again and reported."""
        deadline = time.monotonic() + self._ctx.settings.deploy_timeout
        try:
            async with self._starting():
                started = await self._start(desired, keys=keys)
                try:
                    await self._healthy(desired, started.values(), deadline=deadline)
                except errors.RolloutFailed as exc:
                    # Started but not healthy: kept, and restarted by supervision.
                    logger.warning("scaling %s: %s", self.app, exc)
        except errors.PermanentError as exc:
            # Not a release of its own, so no deploy.failed: see `reporting`.
            self._reports.refused(f"cannot scale up v{desired.release.version}: {exc}")
            return
        self._reports.applied()
        self.procs.update(started)
        self._pending = []
        self._supervise(started.values())
        self._save()

    async def _start(self, desired: desired_kv.DesiredState, *, keys: list[Key]) -> dict[Key, Proc]:
        """Start processes `keys` of `desired`'s release, each put in `_pending` before it starts.

        Run it inside `_starting`, which stops them again if anything fails.

        Raises:
            CannotRun: a process's limits or command cannot be applied, or it could not start.
            SlugError: the release's slug cannot be had or unpacked.
            ObjectStoreUnavailable: the slug cannot be fetched now.
        """
        assert desired.build is not None
        if not keys:
            return {}
        launching.check_limits(desired, kinds={kind for kind, _ in keys})
        release = await self._ctx.slugs.unpack(
            app=self.app,
            version=desired.release.version,
            sha=desired.build.sha,
            slug_key=desired.build.slug_key,
        )
        started: dict[Key, Proc] = {}
        for kind, index in keys:
            proc = launching.new_proc(
                self._ctx, app=self.app, desired=desired, release=release, kind=kind, index=index
            )
            started[(kind, index)] = proc
            self._pending.append(proc)
            await proc.start(on_line=self._line)
            self._save()
        return started

    async def _healthy(
        self, desired: desired_kv.DesiredState, procs: Iterable[Proc], *, deadline: float
    ) -> None:
        host = self._ctx.settings.process_host

        async def one(proc: Proc) -> None:
            try:
                if proc.type in processtypes.ROUTABLE:
                    await supervision.ready(
                        proc, host=host, path=_readiness_path(desired, proc.type), deadline=deadline
                    )
                else:
                    await asyncio.sleep(self._ctx.settings.settle_seconds)
                    if not proc.running:
                        raise health.NotReady("exited")
            except health.NotReady:
                if proc.running:
                    reason = f"was not healthy within {self._ctx.settings.deploy_timeout:.0f} s"
                else:
                    assert proc.process is not None
                    code = await proc.process.wait()
                    reason = f"exited with code {code} before becoming healthy"
                raise errors.RolloutFailed(
                    f"{proc.label} {reason}", last_lines=list(proc.lines)
                ) from None
            proc.state = State.UP

        await asyncio.gather(*(one(proc) for proc in procs))

    def _supervise(self, procs: Iterable[Proc]) -> None:
        for proc in procs:
            proc.supervisor = asyncio.create_task(
                supervision.supervise(
                    proc,
                    on_line=self._line,
                    changed=self.publish_procs,
                    backoff_max=self._ctx.settings.restart_backoff_max,
                ),
                name=f"supervise-{proc.name}",
            )

    async def _stop(self, procs: Iterable[Proc]) -> None:
        grace = self._ctx.settings.stop_grace
        await asyncio.gather(*(proc.stop(grace=grace) for proc in list(procs)))

    def _line(self, proc: Proc, text: str) -> None:
        proc.lines.append(text)
        self._ctx.shipper.line(app=self.app, process=proc.label, message=text)

    async def _publish_endpoints(self, desired: desired_kv.DesiredState) -> None:
        host = self._ctx.settings.process_host
        upstreams = [
            endpoints_kv.Upstream(host=host, port=proc.port)
            for (kind, _), proc in sorted(self.procs.items())
            if kind in processtypes.ROUTABLE and desired.routable
        ]
        if upstreams == self._endpoints or self.version is None:
            return
        self._endpoints_sequence = await facts.endpoints(
            self._ctx.js,
            value=endpoints_kv.Endpoints(app=self.app, version=self.version, upstreams=upstreams),
        )
        self._endpoints = upstreams


def _keys(formation: dict[str, int]) -> list[Key]:
    return [
        (kind, index) for kind, count in sorted(formation.items()) for index in range(1, count + 1)
    ]


def _readiness_path(desired: desired_kv.DesiredState, kind: str) -> str | None:
    check = desired.healthchecks.get(kind)
    probe = check.readiness_probe if check is not None else None
    if probe is not None and probe.http_get is not None:
        return probe.http_get.path or "/"
    return None
