"""Apply the routing table to nginx: render the changed apps, send them, report them live.

nginx's configuration names no app (`domain.hosting`): every change of an app, its domains,
certificates, whitelist and maintenance as much as its endpoints, is a few keys of nginx's
shared dicts, sent through the agent's socket (`syncing`), with no reload. A batch is the
apps changed since the last one (those arriving while one is applied gather), and becomes a
revision:

1. render the changed apps' routes (`rendering`); an app whose routes are refused (an unsafe
   value, or a certificate that is not a pair: `router.rejected` names the app) falls back:
   first to its new routing with the certificates that last went live (none for a new app,
   unless it enforces HTTPS), so that a broken certificate never keeps its app on old
   endpoints; otherwise to what nginx holds for it (or nothing, if it never had any);
2. take their endpoints (`syncing`);
3. send nginx the changed apps' routes, then their endpoints; nginx answers once its shared
   dicts hold them, and `router.applied` reports the change-to-live latency.

Only the agent's start makes a release (`releases/<revision>/nginx.conf`) and loads it: a
fresh nginx, or one an earlier agent left running (`nginx.master`), which is reloaded unless
it already runs exactly the configuration this agent renders (`_take_over`: then it is taken
as it runs, so no keep-alive connection is closed). Every app's routes and endpoints are then
sent whole (PUT), as after any nginx restart (its shared dicts survive reloads, not
restarts). Revisions count every batch applied.

If nginx does not take the first release (it cannot bind a port, say), `router.rejected` says
so, and it is tried again.
"""

import asyncio
import logging
import time

from deis_router_agent.app import outcomes
from deis_router_agent.app.context import Context
from deis_router_agent.app.syncing import TableSync
from deis_router_agent.app.table import Batch, RoutingTable
from deis_router_agent.domain import rendering, skeleton
from deis_router_agent.domain.rendering import AppRoutes
from deis_router_agent.errors import NginxFailed, UnsafeValue
from deis_router_agent.nginx import checking, status
from deis_router_agent.nginx.master import MasterState
from deis_shared.events import router as router_events
from deis_shared.kv import routes as routes_kv

logger = logging.getLogger(__name__)

RETRY_DELAY = 1.0
"""Seconds before a batch that failed unexpectedly (a disk error, say) is tried again."""


class Applier:
    """Turns batches of changed apps into live revisions of nginx's route table."""

    def __init__(self, ctx: Context, *, table: RoutingTable) -> None:
        self._ctx = ctx
        self._table = table
        self.endpoints = TableSync(ctx, table=table)
        """What nginx holds of every app (its routes and peers), sent through its socket."""
        self.revision = 0
        """The last revision made (live or not)."""
        self.live: int | None = None
        """The last revision nginx took."""
        self.release: int | None = None
        """The release (`nginx.conf`) nginx runs."""
        self.reloads = 0
        """Releases nginx took (started or reloaded): at the agent's start only."""
        self.good_certificates: dict[str, list[routes_kv.Certificate]] = {}
        """Per app, the certificates of the routes nginx holds."""
        self.busy = False
        """Whether a batch is being applied."""
        self.served_sequence = 0
        """KV `endpoints` stream sequence up to which every entry is live (`Batch`)."""
        self.progress = asyncio.Event()
        """Set whenever `served_sequence` may have moved (membership reports it)."""
        self.timings: dict[str, float] = {}
        """Seconds the steps of the last revision took: `render` (the changed apps) and `send`
        (until nginx holds them); for a release also `check` (`nginx -t`) and `reload` (from
        SIGHUP, or start, until the new revision answers)."""

    @property
    def good(self) -> dict[str, AppRoutes]:
        """Per routed app, the routes nginx holds (or is to hold, once it started)."""
        return self.endpoints.routes

    @property
    def settled(self) -> bool:
        """Whether every change received so far is live (or was rejected)."""
        return not self.busy and self._table.first_change is None and self.endpoints.in_sync

    async def run(self) -> None:
        """Apply every change as it comes (those arriving meanwhile gather); until cancelled."""
        while True:
            await self._table.changed.wait()
            batch = self._table.take()
            self.busy = True
            try:
                if batch.apps or self.release is None:
                    await self.apply(batch)
                else:
                    await self.endpoints.send((), release=self.release)  # nginx restarted
                    self._served(batch)
            except (OSError, NginxFailed):
                logger.exception("applying revision %d failed; retrying", self.revision)
                await asyncio.sleep(RETRY_DELAY)
                for app in batch.apps:
                    self._table.mark(app)
                self._table.wake()  # and what a restarted nginx was not sent yet
            finally:
                self.busy = False

    async def _reject(self, revision: int, app: str | None, message: str) -> None:
        event = router_events.RouterRejected(
            agent=self._ctx.settings.agent_name, revision=revision, app=app, message=message
        )
        await outcomes.rejected(self._ctx.js, value=event)

    def _render(
        self, app: str, *, certificates: list[routes_kv.Certificate] | None = None
    ) -> AppRoutes | None:
        routes = self._table.routes.get(app)
        if routes is not None and certificates is not None:
            routes = routes.model_copy(update={"certificates": certificates})
        return rendering.render_app(routes=routes, options=self._ctx.options)

    def _fallback(self, app: str) -> AppRoutes | None:
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

    async def _settle_routes(self, revision: int, apps: frozenset[str]) -> set[str]:
        """Render `apps` into what nginx is to hold; the apps whose routes that changed."""
        held = self.endpoints.routes
        changed: set[str] = set()
        for app in sorted(apps):
            certificates: list[routes_kv.Certificate] | None = None
            try:
                config = self._render(app)
            except UnsafeValue as error:
                await self._reject(revision, app, str(error))
                config = self._fallback(app)
                if config is None:
                    if app in held:
                        continue  # nginx keeps what it holds
                else:
                    certificates = self.good_certificates.get(app, [])
            if config is None:
                if held.pop(app, None) is not None:
                    changed.add(app)
                self.good_certificates.pop(app, None)
                continue
            if certificates is None:
                routes = self._table.routes.get(app)
                certificates = routes.certificates if routes is not None else []
            self.good_certificates[app] = certificates
            if held.get(app) != config:
                held[app] = config
                changed.add(app)
        return changed

    async def apply(self, batch: Batch) -> bool:
        """Make a revision of the table with `batch.apps` live; whether nginx runs it.

        Either way every `endpoints` entry the batch was taken after is then served.

        Raises:
            NginxFailed: nginx did not take what was sent (it is not running, say).
        """
        self.revision += 1
        revision = self.revision
        timings = self.timings = {}
        started = time.perf_counter()
        changed = await self._settle_routes(revision, batch.apps)
        refused = await self.endpoints.update(batch.apps)
        for app, message in refused.items():
            await self._reject(revision, app, message)
        timings["render"] = time.perf_counter() - started
        if self.release is None and not await self._start(revision):
            return False
        assert self.release is not None
        started = time.perf_counter()
        await self.endpoints.send(batch.apps, release=self.release, routes=changed)
        timings["send"] = time.perf_counter() - started
        await self._applied(revision, batch, refused=set(refused))
        self._served(batch)
        return True

    def _served(self, batch: Batch) -> None:
        if self.release is not None:
            self.served_sequence = max(self.served_sequence, batch.endpoints_sequence)
            self.progress.set()

    async def _start(self, revision: int) -> bool:
        """Make nginx run this agent's configuration: taken over, started or reloaded."""
        ctx = self._ctx
        if await self._take_over(revision):
            return True
        started = time.perf_counter()
        main = skeleton.render_main(options=ctx.options, revision=revision)
        await asyncio.to_thread(ctx.layout.write_release, revision=revision, main=main)
        message = await checking.check(
            binary=ctx.binary, prefix=ctx.layout.root, conf=ctx.layout.conf(revision)
        )
        self.timings["check"] = time.perf_counter() - started
        if message is not None:
            await asyncio.to_thread(ctx.layout.discard, revision)
            await self._reject(revision, None, message)
            raise NginxFailed(f"nginx refused the configuration: {message}")
        if not await self._go_live(revision):
            return False
        await asyncio.to_thread(ctx.layout.prune, keep=ctx.settings.keep_releases)
        return True

    async def _take_over(self, revision: int) -> bool:
        """Adopt, without a reload, the nginx an earlier agent left, if it runs our configuration.

        Its routes and endpoints are sent whole all the same.

        Only a reload closes keep-alive connections: nginx's configuration names no app, so
        unless the agent's settings changed meanwhile, the release nginx runs is exactly what
        this agent renders, and it is taken as it is. Otherwise, False: the usual path adopts
        it with a reload.
        """
        ctx = self._ctx
        master, layout = ctx.master, ctx.layout
        live = layout.live_revision()
        if master.state is not MasterState.NEW or not master.found or live is None:
            return False
        main = skeleton.render_main(options=ctx.options, revision=live)
        if not await asyncio.to_thread(layout.holds, live, main=main):
            return False
        await master.start(reload=False)
        if not master.adopted:  # it was gone by now: started afresh on `current`
            logger.info("nginx started on release %d", live)
        self.release = live
        logger.info(
            "revision %d: took over release %d as nginx serves it (no reload)", revision, live
        )
        return True

    async def _applied(self, revision: int, batch: Batch, *, refused: set[str]) -> None:
        """Report `revision` live; `versions`: the apps with new endpoints (not `refused`)."""
        self.live = revision
        latency = time.monotonic() - batch.since
        logger.info("revision %d live in %.3f s", revision, latency)
        endpoints = self._table.endpoints
        versions = {
            app: endpoints[app].version
            for app in sorted(batch.apps)
            if app in endpoints and app in self.good and app not in refused
        }
        event = router_events.RouterApplied(
            agent=self._ctx.settings.agent_name,
            revision=revision,
            latency_seconds=latency,
            apps=sorted(batch.apps),
            versions=versions,
            routes=sorted(batch.routes),
        )
        await outcomes.applied(self._ctx.js, value=event)

    async def _go_live(self, revision: int) -> bool:
        """Start nginx on release `revision`, or reload the nginx adopted; whether it serves."""
        ctx = self._ctx
        master = ctx.master
        port = ctx.options.status_port
        timeout = ctx.settings.reload_timeout
        started = time.perf_counter()
        await asyncio.to_thread(ctx.layout.swap, revision)
        if master.state is MasterState.NEW:
            await master.start()
        elif master.state is MasterState.CLOSED:
            raise NginxFailed("nginx is stopped")
        else:
            master.reload()
        if not await status.wait_for(
            port=port, revision=revision, seconds=timeout, alive=master.supervised
        ):
            if not master.supervised():
                return False  # stopping: nothing to report
            raise NginxFailed(f"nginx did not serve revision {revision}; see {ctx.layout.logs}")
        self.timings["reload"] = time.perf_counter() - started
        self.release = revision
        self.reloads += 1
        return True
