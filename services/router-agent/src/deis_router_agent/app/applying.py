"""Apply the routing table to nginx: coalesce, render, send endpoints, validate, swap, reload.

Changes are gathered for `debounce_seconds` of quiet, at most `max_delay_seconds` after the
first, and while a reload is in flight the next batch gathers: a hundred changes in a second
cost a handful of reloads. Changes of endpoints alone are not held back (they cost no
reload); those arriving while a batch is applied still gather. Each batch becomes a revision:

1. render the changed apps (the others keep the file that last went live), and take their
   endpoints (`syncing`);
2. if no app's file changed (same apps, same server blocks: a deploy, a scale), send the
   endpoints to nginx's balancer and stop there: no reload, `router.applied` as soon as nginx
   holds them. Otherwise send them too (so that the new workers find them), and go on;
3. write the whole release to a new directory and `nginx -t` it there: the changed apps'
   files are written, every other app's is a hard link to its file in the live release
   (`Layout.write_release`), so that the write grows with the change, not with the apps;
4. when nginx refuses it and its message names an app's file or certificate, `router.rejected`
   names the app, and that app alone falls back: first to its new routing with the
   certificates that last went live (none for a new app, unless it enforces HTTPS), so that a
   broken certificate never keeps its app on old endpoints; if nginx refuses that too, to its
   last good file (or out of the configuration if it never had one). The release is then
   validated again; a refusal that names no app keeps the whole previous release live;
5. swap `current` to the release, SIGHUP the master, poll the status server until the new
   revision answers, and wait until the old workers stop accepting (`nginx.workers`); then
   `router.applied` reports the change-to-live latency: from then on every new connection
   meets the new revision. After nginx (re)started, the balancer is sent every app's
   endpoints before anything is reported (its shared dict survives reloads, not restarts).

Revisions count every change applied, endpoints alone included; a revision that changed a
file is also a release (`releases/<revision>/`, the status server's answer).

If nginx does not take a validated release (it cannot bind a port, say), `current` goes back
to the previous release, which is reloaded, and `router.rejected` says so.

An agent that finds the nginx an earlier agent left running (`nginx.master`) first checks
whether that nginx's release is exactly what it renders (`_take_over`: the same main file,
status port included, and the same app files): then it takes it over as it runs, with no
reload, so no keep-alive connection is closed; it only sends the balancer every app's
endpoints. Otherwise its first release goes live by a reload of the adopted nginx.
"""

import asyncio
import logging
import time
from collections.abc import Iterable
from pathlib import Path

from deis_router_agent.app import publishing
from deis_router_agent.app.context import Context
from deis_router_agent.app.syncing import EndpointSync
from deis_router_agent.app.table import Batch, RoutingTable
from deis_router_agent.domain import diagnosis, rendering, skeleton
from deis_router_agent.domain.rendering import AppConfig
from deis_router_agent.errors import NginxFailed, UnsafeValue
from deis_router_agent.nginx import checking, status, workers
from deis_router_agent.nginx.master import MasterState
from deis_shared.events import router as router_events
from deis_shared.kv import routes as routes_kv

logger = logging.getLogger(__name__)

RETRY_DELAY = 1.0
"""Seconds before a batch that failed unexpectedly (a disk error, say) is tried again."""


class Applier:
    """Turns batches of changed apps into live nginx revisions."""

    def __init__(self, ctx: Context, *, table: RoutingTable) -> None:
        self._ctx = ctx
        self._table = table
        self.endpoints = EndpointSync(ctx, table=table)
        self.revision = 0
        """The last revision made (live or not)."""
        self.live: int | None = None
        """The last revision nginx took (a release, or endpoints alone)."""
        self.release: int | None = None
        """The release nginx runs."""
        self.reloads = 0
        """Releases nginx took (started or reloaded); endpoint changes take none."""
        self.good: dict[str, AppConfig] = {}
        """Per app, the file that is live."""
        self.good_certificates: dict[str, list[routes_kv.Certificate]] = {}
        """Per app, the certificates of the file that is live."""
        self.busy = False
        """Whether a batch is being applied."""
        self.served_sequence = 0
        """KV `endpoints` stream sequence up to which every entry is live (`Batch`)."""
        self.progress = asyncio.Event()
        """Set whenever `served_sequence` may have moved (membership reports it)."""
        self.timings: dict[str, float] = {}
        """Seconds the steps of the last revision took: `render` (the changed apps), and for a
        release `write`, `check` (every `nginx -t` of it), `reload` (from SIGHUP, or start,
        until the new revision answers), `drain` (until old workers stop accepting) and
        `prune`."""

    @property
    def settled(self) -> bool:
        """Whether every change received so far is live (or was rejected)."""
        return not self.busy and self._table.first_change is None and self.endpoints.in_sync

    async def run(self) -> None:
        """Apply every change, coalesced; runs until cancelled."""
        while True:
            await self._table.changed.wait()
            await self._settle()
            batch = self._table.take()
            self.busy = True
            try:
                if batch.apps:
                    await self.apply(batch)
                elif self.release is not None:
                    await self.endpoints.send((), release=self.release)  # nginx restarted
                    self._served(batch)
            except (OSError, NginxFailed):
                logger.exception("applying revision %d failed; retrying", self.revision)
                await asyncio.sleep(RETRY_DELAY)
                for app in batch.apps:
                    self._table.mark(app)
                self._table.wake()  # and endpoints a restarted nginx was not sent yet
            finally:
                self.busy = False

    async def _settle(self) -> None:
        if self._table.only_endpoints:
            return  # no reload to spare: sent to the balancer at once
        settings = self._ctx.settings
        first = self._table.first_change or time.monotonic()
        while True:
            self._table.changed.clear()
            remaining = first + settings.max_delay_seconds - time.monotonic()
            if remaining <= 0:
                return
            try:
                async with asyncio.timeout(min(settings.debounce_seconds, remaining)):
                    await self._table.changed.wait()
            except TimeoutError:
                status.raise_if_cancelling()
                return

    async def _reject(self, revision: int, app: str | None, message: str) -> None:
        event = router_events.RouterRejected(
            agent=self._ctx.settings.agent_name, revision=revision, app=app, message=message
        )
        await publishing.rejected(self._ctx.js, value=event)

    def _render(
        self, app: str, *, certificates: list[routes_kv.Certificate] | None = None
    ) -> AppConfig | None:
        routes = self._table.routes.get(app)
        if routes is not None and certificates is not None:
            routes = routes.model_copy(update={"certificates": certificates})
        return rendering.render_app(routes=routes, options=self._ctx.options)

    def _fallback(self, app: str) -> AppConfig | None:
        """The app's new routing with the certificates that last went live, if that differs."""
        routes = self._table.routes.get(app)
        certificates = self.good_certificates.get(app, [])
        if routes is None or routes.certificates == certificates:
            return None
        if not certificates and routes.https_enforced:
            return None  # never serve an app that enforces HTTPS over plain HTTP alone
        try:
            return self._render(app, certificates=certificates)
        except UnsafeValue:
            return None

    async def apply(self, batch: Batch) -> bool:
        """Make a revision of the table with `batch.apps` re-rendered live; whether it went.

        Either way (a refused release keeps its endpoints: they went to the balancer before),
        every `endpoints` entry the batch was taken after is then served.

        Raises:
            NginxFailed: nginx did not take the endpoints (it is not running, say).
        """
        went = await self._apply(batch)
        self._served(batch)
        return went

    def _served(self, batch: Batch) -> None:
        if self.release is not None:
            self.served_sequence = max(self.served_sequence, batch.endpoints_sequence)
            self.progress.set()

    async def _apply(self, batch: Batch) -> bool:
        layout = self._ctx.layout
        self.revision += 1
        revision = self.revision
        timings = self.timings = {}
        started = time.perf_counter()
        configs = dict(self.good)
        fresh: set[str] = set()
        used: dict[str, list[routes_kv.Certificate]] = {}  # what each fresh file was made with
        for app in sorted(batch.apps):
            try:
                config = self._render(app)
            except UnsafeValue as error:
                await self._reject(revision, app, str(error))
                continue
            if config is None:
                configs.pop(app, None)
            else:
                configs[app] = config
                fresh.add(app)
                routes = self._table.routes.get(app)
                used[app] = routes.certificates if routes is not None else []
        timings["render"] = time.perf_counter() - started
        refused = await self.endpoints.update(batch.apps)
        for app, message in refused.items():
            await self._reject(revision, app, message)
        if self.release is None and await self._take_over(revision, configs, used):
            await self._applied(revision, batch, served=set(configs) - set(refused))
            return True
        if self.release is not None and configs == self.good:
            await self.endpoints.send(batch.apps, release=self.release)
            await self._applied(revision, batch, served=set(configs) - set(refused))
            return True
        if self.release is not None:
            await self.endpoints.send(batch.apps, release=self.release)
        started = time.perf_counter()
        apps_dir = layout.release(revision) / "apps"
        main = skeleton.render_main(options=self._ctx.options, revision=revision, apps_dir=apps_dir)
        changed = {app for app in fresh if configs[app] != self.good.get(app)}
        await asyncio.to_thread(
            layout.write_release,
            revision=revision,
            main=main,
            apps=list(configs.values()),
            base=self.release,
            changed=changed,
        )
        timings["write"] = time.perf_counter() - started
        if not await self._validate(revision, configs=configs, fresh=fresh, used=used):
            await asyncio.to_thread(layout.discard, revision)
            return False
        if not await self._go_live(revision):
            return False
        await self.endpoints.send((), release=revision)  # every app's, if nginx (re)started
        previous, self.good = self.good, configs
        for app in batch.apps:
            if app not in configs:
                self.good_certificates.pop(app, None)
            elif app in fresh:
                self.good_certificates[app] = used[app]
        await self._applied(revision, batch, served=set(configs) - set(refused))
        started = time.perf_counter()
        in_use = _tls_files(configs.values()) | _tls_files(previous.values())
        await asyncio.to_thread(
            layout.prune, keep=self._ctx.settings.keep_releases, tls_in_use=in_use
        )
        timings["prune"] = time.perf_counter() - started
        return True

    async def _take_over(
        self,
        revision: int,
        configs: dict[str, AppConfig],
        used: dict[str, list[routes_kv.Certificate]],
    ) -> bool:
        """Adopt, without a reload, the nginx an earlier agent left, if it serves `configs`.

        Only a reload closes keep-alive connections: when nothing changed while no agent ran,
        the release nginx runs is exactly what this agent renders, and it is taken as it is
        (its endpoints sent again, as after any adoption). Otherwise, False: the usual path
        adopts it with a reload.
        """
        ctx = self._ctx
        master, layout = ctx.master, ctx.layout
        live = layout.live_revision()
        if master.state is not MasterState.NEW or not master.found or live is None:
            return False
        main = skeleton.render_main(
            options=ctx.options, revision=live, apps_dir=layout.release(live) / "apps"
        )
        apps = list(configs.values())
        if not await asyncio.to_thread(layout.holds, live, main=main, apps=apps):
            return False
        await master.start(reload=False)
        if not master.adopted:  # it was gone by now: started afresh on `current`
            logger.info("nginx started on release %d", live)
        await self.endpoints.send((), release=live)
        self.release, self.good = live, dict(configs)
        self.good_certificates = {app: used.get(app, []) for app in configs}
        logger.info(
            "revision %d: took over release %d as nginx serves it (no reload)", revision, live
        )
        return True

    async def _applied(self, revision: int, batch: Batch, *, served: set[str]) -> None:
        """Report `revision` live; `versions`: the apps of `served` with their new endpoints."""
        self.live = revision
        latency = time.monotonic() - batch.since
        logger.info("revision %d live in %.3f s", revision, latency)
        endpoints = self._table.endpoints
        versions = {
            app: endpoints[app].version
            for app in sorted(batch.apps)
            if app in endpoints and app in served
        }
        event = router_events.RouterApplied(
            agent=self._ctx.settings.agent_name,
            revision=revision,
            latency_seconds=latency,
            apps=sorted(batch.apps),
            versions=versions,
            routes=sorted(batch.routes),
        )
        await publishing.applied(self._ctx.js, value=event)

    async def _validate(
        self,
        revision: int,
        *,
        configs: dict[str, AppConfig],
        fresh: set[str],
        used: dict[str, list[routes_kv.Certificate]],
    ) -> bool:
        ctx = self._ctx
        layout = ctx.layout
        fallen: set[str] = set()
        self.timings["check"] = 0.0
        for _ in range(2 * len(configs) + 1):
            started = time.perf_counter()
            message = await checking.check(
                binary=ctx.binary, prefix=layout.root, conf=layout.conf(revision)
            )
            self.timings["check"] += time.perf_counter() - started
            if message is None:
                return True
            app = diagnosis.blame(message, releases=layout.releases, tls=layout.tls)
            if app is None or app not in configs:
                await self._reject(revision, None, message)
                return False
            await self._reject(revision, app, message)
            fallback = self._fallback(app) if app in fresh and app not in fallen else None
            if fallback is not None:
                fallen.add(app)
                configs[app] = fallback
                used[app] = self.good_certificates.get(app, [])
                await asyncio.to_thread(layout.write_app, revision=revision, config=fallback)
                continue
            if app in fresh and app in self.good:
                configs[app] = self.good[app]
                await asyncio.to_thread(layout.write_app, revision=revision, config=configs[app])
            else:
                del configs[app]
                await asyncio.to_thread(layout.remove_app, revision=revision, app=app)
            fresh.discard(app)
        return False

    async def _go_live(self, revision: int) -> bool:
        ctx = self._ctx
        master = ctx.master
        port = ctx.options.status_port
        timeout = ctx.settings.reload_timeout
        started = time.perf_counter()
        await asyncio.to_thread(ctx.layout.swap, revision)
        if master.state is MasterState.NEW:
            await master.start()
            if not await status.wait_for(
                port=port, revision=revision, seconds=timeout, alive=master.alive
            ):
                raise NginxFailed(f"nginx did not start; see {ctx.layout.logs}")
            self.timings["reload"] = time.perf_counter() - started
        else:
            if master.state is MasterState.CLOSED:
                raise NginxFailed("nginx is stopped")
            old = workers.workers(master.pid) if master.pid is not None else set()
            master.reload()  # if nginx is dead, its restart loads `current`: wait for that too
            if not await status.wait_for(
                port=port, revision=revision, seconds=timeout, alive=master.supervised
            ):
                if not master.supervised():
                    return False  # stopping: nothing to report
                if self.release is not None:
                    await asyncio.to_thread(ctx.layout.swap, self.release)
                master.reload()
                message = f"nginx did not serve revision {revision} within {timeout} s"
                await self._reject(revision, None, message)
                return False
            self.timings["reload"] = time.perf_counter() - started
            started = time.perf_counter()
            if master.pid is not None and not await workers.wait_until_old_ones_stop_accepting(
                master=master.pid, old=old, seconds=timeout
            ):
                logger.warning("old nginx workers still accept after revision %d", revision)
            self.timings["drain"] = time.perf_counter() - started
        self.release = revision
        self.reloads += 1
        return True


def _tls_files(configs: Iterable[AppConfig]) -> set[Path]:
    return {path for config in configs for path in config.tls_files}
