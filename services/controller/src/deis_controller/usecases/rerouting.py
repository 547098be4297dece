"""A change of how the router serves an app answers once the router serves it.

Settings that the router reads from KV `routes` (routable, maintenance, whitelist) make no
release, so the scheduler reports no deploy for them; the router reports each configuration it
takes (`router.applied`, naming the apps it changed, and in `routes` those whose routes
changed). `RouterWatch` subscribes before the change is made and takes an `applied` naming the
app in `routes` as the change served once the change's routes are written to KV `routes`
(`Ready`, which the controller answers from its outbox): an `applied` before that was another
change's, and one naming the app for its endpoints alone is not a routing change (the
scheduler empties an unroutable app's endpoints, which the balancer takes before the reload
that drops the app's server).

What is left open, for want of a KV revision in the router's event: an `applied` for a batch
the router took just before the new routes reached it, reported after they were written, is
taken for the change; and an app made routable again is served with upstreams only once the
scheduler's endpoints (which follow `desired.routable`) reach the router too, which the
controller cannot read (it may not get KV `endpoints`): when they come after the router took
the routes, the first `applied` answers while the app still has none. Both windows are a
router batch long (a few milliseconds: routes and endpoints reach nginx without a reload).
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from deis_shared import wire
from deis_shared.bus import connection, subscribing
from deis_shared.events import router as router_events

logger = logging.getLogger(__name__)

Ready = Callable[[], Awaitable[bool]]
"""Whether the change's routes are in KV `routes` (an `applied` from now on may be theirs)."""


class RouterWatch:
    """The router's `applied` events naming one app, collected from the moment of subscribing."""

    def __init__(self, app: str) -> None:
        """Collect the events naming `app`."""
        self.app = app
        self._applied: asyncio.Queue[router_events.RouterApplied] = asyncio.Queue()

    async def deliver(self, msg: connection.Msg) -> None:
        """Subscription callback: keep an event naming the app."""
        try:
            applied = wire.decode(msg.data, router_events.RouterApplied)
        except wire.InvalidPayload as exc:
            logger.warning("ignoring an undecodable event on %s: %s", msg.subject, exc)
            return
        # Only a revision that took the app's routes: one of its endpoints alone (the
        # scheduler's answer to `routable`, say) can go live before the routes do.
        named = applied.apps if applied.routes is None else applied.routes
        if self.app in named:
            self._applied.put_nowait(applied)

    async def applied(self, *, deadline: float, ready: Ready) -> bool:
        """Wait for an `applied` naming the app that comes once `ready` holds.

        Args:
            deadline: a `time.monotonic()` value.
            ready: asked on each event: whether the event can be the change's.

        Returns:
            Whether the router said it serves the change; False when `deadline` came first.
        """
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            try:
                await asyncio.wait_for(self._applied.get(), timeout=left)
            except TimeoutError:
                return False
            if await ready():
                return True


@contextlib.asynccontextmanager
async def watch(nc: connection.Client, *, app: str) -> AsyncIterator[RouterWatch]:
    """Collect the router's `applied` events naming `app` for the duration of the context."""
    watcher = RouterWatch(app)
    async with subscribing.subscription(
        nc, subject=router_events.APPLIED_SUBJECT, callback=watcher.deliver
    ):
        yield watcher
