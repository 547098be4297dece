"""Keep nginx's balancer holding every app's endpoints: resolved, sent, sent again at a start.

The applier hands each batch's apps here. Their peers (IP addresses and ports, host names
resolved) are kept per app, and sent through the balancer's socket: only the changed apps
while nginx runs on, every app once nginx (re)started, since its shared dict lives in its
memory (it survives reloads, not restarts). A send returns once nginx holds the peers, so
from then on requests go to them: what `router.applied` reports.
"""

from collections.abc import Callable, Iterable

from deis_router_agent.app.context import Context
from deis_router_agent.app.table import RoutingTable
from deis_router_agent.domain import balancing
from deis_router_agent.errors import NginxFailed, UnresolvedHost, UnsafeValue
from deis_router_agent.nginx import balancer, status


class EndpointSync:
    """The peers nginx's balancer should hold, and which nginx start holds them all."""

    def __init__(self, ctx: Context, *, table: RoutingTable) -> None:
        self._ctx = ctx
        self._table = table
        self.peers: dict[str, list[str]] = {}
        """Per app with processes, its peers as the balancer takes them."""
        self.synced = 0
        """The nginx `generation` that was sent every app's peers."""
        self.sends = 0
        """Requests made to the balancer (tests and the benchmark count them)."""
        self.on_full_send: list[Callable[[], None]] = []
        """Called after each full send (nginx started or adopted): what else lives in its
        memory alone (the ACME answers) is to be sent again."""

    @property
    def in_sync(self) -> bool:
        """Whether the running nginx was sent every app's peers."""
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

    async def send(self, apps: Iterable[str], *, release: int) -> None:
        """Make nginx hold `apps`' peers; every app's when it started since the last full send.

        `release` is the revision nginx runs: after a start, the agent waits until it serves
        (its socket is bound then) before sending.

        Raises:
            NginxFailed: nginx is not running (and did not come back in time), or refused.
        """
        ctx = self._ctx
        master = ctx.master
        timeout = ctx.settings.reload_timeout
        generation = master.generation
        if generation != self.synced or master.pid is None:
            if not await status.wait_for(
                port=ctx.options.status_port,
                revision=release,
                seconds=timeout,
                alive=master.supervised,
            ):
                raise NginxFailed(f"nginx did not serve revision {release} within {timeout} s")
            generation = master.generation
            body, replace = balancing.body(self.peers), True
        else:
            wanted = {app: self.peers.get(app, []) for app in apps}
            if not wanted:
                return
            body, replace = balancing.body(wanted), False
        await balancer.send(ctx.layout.socket, body=body, replace=replace, seconds=timeout)
        self.sends += 1
        if replace:
            self.synced = generation
            for callback in self.on_full_send:
                callback()
