"""Keep nginx holding every app's routes and endpoints: sent, and sent again at a start.

The applier hands each batch's apps here: their route lines (`rendering`, as the applier
settled them) and their peers (IP addresses and ports, host names resolved) are kept per app,
and sent through the agent's socket, routes first: only the changed apps while nginx runs on,
every app once nginx (re)started, since its shared dicts live in its memory (they survive
reloads, not restarts). A send returns once nginx holds them, so from then on requests are
served by them: what `router.applied` reports.
"""

from collections.abc import Callable, Iterable

from deis_router_agent.app.context import Context
from deis_router_agent.app.table import RoutingTable
from deis_router_agent.domain import balancing, hosting, rendering
from deis_router_agent.domain.rendering import AppRoutes
from deis_router_agent.errors import NginxFailed, UnresolvedHost, UnsafeValue
from deis_router_agent.nginx import agentsocket, balancer, status


class TableSync:
    """The routes and peers nginx should hold, and which nginx start holds them all."""

    def __init__(self, ctx: Context, *, table: RoutingTable) -> None:
        self._ctx = ctx
        self._table = table
        self.peers: dict[str, list[str]] = {}
        """Per app with processes, its peers as the balancer takes them."""
        self.routes: dict[str, AppRoutes] = {}
        """Per routed app, its lines in nginx's route table (the applier sets them)."""
        self.synced = 0
        """The nginx `generation` that was sent every app's peers."""
        self.sends = 0
        """Requests made to the balancer (tests and the benchmark count them)."""
        self.on_full_send: list[Callable[[], None]] = []
        """Called after each full send (nginx started or adopted): what else lives in its
        memory alone (the ACME answers) is to be sent again."""

    @property
    def in_sync(self) -> bool:
        """Whether the running nginx was sent every app's routes and peers."""
        return self.synced == self._ctx.master.generation

    async def update(self, apps: Iterable[str]) -> dict[str, str]:
        """Take `apps`' endpoints from the table; those that cannot be used keep their old peers.

        Returns:
            Per app whose endpoints were refused (an unsafe value, a host without address),
            why.
        """
        refused: dict[str, str] = {}
        for app in apps:
            endpoints = self._table.endpoints.get(app)
            if endpoints is None or not endpoints.upstreams:
                self.peers.pop(app, None)
                continue
            try:
                self.peers[app] = await balancer.peers(endpoints.upstreams)
            except (UnsafeValue, UnresolvedHost) as error:
                refused[app] = str(error)
        return refused

    async def send(self, apps: Iterable[str], *, release: int, routes: Iterable[str] = ()) -> None:
        """Make nginx hold `routes`' lines and `apps`' peers; every app's after it started.

        `release` is the revision nginx runs: after a start, the agent waits until it serves
        (its socket is bound then) before sending.

        Raises:
            NginxFailed: nginx is not running (and did not come back in time), or refused.
        """
        ctx = self._ctx
        master = ctx.master
        timeout = ctx.settings.reload_timeout
        generation = master.generation
        replace = generation != self.synced or master.pid is None
        if replace:
            if not await status.wait_for(
                port=ctx.options.status_port,
                revision=release,
                seconds=timeout,
                alive=master.supervised,
            ):
                raise NginxFailed(f"nginx did not serve revision {release} within {timeout} s")
            generation = master.generation
            routes_body = rendering.body(self.routes.values())
            peers_body = balancing.body(self.peers)
        else:
            changed = sorted(set(routes))
            routes_body = rendering.body(
                [self.routes[app] for app in changed if app in self.routes],
                gone=[app for app in changed if app not in self.routes],
            )
            peers_body = balancing.body({app: self.peers.get(app, []) for app in apps})
        method = "PUT" if replace else "PATCH"
        path = ctx.layout.socket
        if replace or routes_body:
            await agentsocket.request(
                path, method=method, target=hosting.SOCKET_LOCATION, body=routes_body,
                seconds=timeout, what="set routes",
            )  # fmt: skip
            self.sends += 1
        if replace or peers_body:
            await balancer.send(path, body=peers_body, replace=replace, seconds=timeout)
            self.sends += 1
        if replace:
            self.synced = generation
            for callback in self.on_full_send:
                callback()
