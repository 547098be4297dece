"""The routing table: the latest `routes` and `endpoints` of every app, and what changed.

Both watches write here; the applier takes the changed apps in batches. A value equal to the
one held (ignoring its id and time, as a watch restart replays every key) is not a change, so
replays cost nothing. Each batch also names the apps whose routes changed (`Batch.routes`),
which `router.applied` reports.
"""

import asyncio
import time
from dataclasses import dataclass

from deis_shared import wire
from deis_shared.kv import endpoints as endpoints_kv, routes as routes_kv

_IDENTITY = frozenset({"id", "ts"})


@dataclass(frozen=True, slots=True)
class Batch:
    """Apps changed since the last batch, and when the earliest of those changes arrived."""

    apps: frozenset[str]
    since: float
    """`time.monotonic()` of the first change in the batch."""
    routes: frozenset[str] = frozenset()
    """The apps of `apps` whose routes changed (the others: their endpoints only)."""
    endpoints_sequence: int = 0
    """KV `endpoints` stream sequence of the last entry read before the batch was taken: once
    the batch is live, every entry up to it is."""


def _same(old: wire.Message | None, new: wire.Message | None) -> bool:
    if old is None or new is None:
        return old is new
    return old.model_dump(exclude=set(_IDENTITY)) == new.model_dump(exclude=set(_IDENTITY))


class RoutingTable:
    """Latest routes and endpoints per app, with a change set."""

    def __init__(self) -> None:
        self.routes: dict[str, routes_kv.Routes] = {}
        self.endpoints: dict[str, endpoints_kv.Endpoints] = {}
        self.changed = asyncio.Event()
        """Set when `dirty` gained an app."""
        self._dirty: set[str] = set()
        self._routes_dirty: set[str] = set()
        self._since: float | None = None
        self.endpoints_sequence = 0
        """KV `endpoints` stream sequence of the last entry read (a change or not)."""
        self.read = asyncio.Event()
        """Set at every entry of `endpoints` read, changed or not (membership reports it)."""

    @property
    def first_change(self) -> float | None:
        """`time.monotonic()` of the oldest change not yet taken."""
        return self._since

    def mark(self, app: str, *, routes: bool = True) -> None:
        """Count `app` as changed (to render it again; `routes`: maybe its file too)."""
        if routes:
            self._routes_dirty.add(app)
        self._dirty.add(app)
        if self._since is None:
            self._since = time.monotonic()
        self.changed.set()

    def wake(self) -> None:
        """Wake the applier with no app changed (nginx restarted: its endpoints are to send)."""
        self.changed.set()

    def put_routes(self, app: str, value: routes_kv.Routes | None) -> None:
        """Note the app's latest routes (None: deleted)."""
        if _same(self.routes.get(app), value):
            return
        if value is None:
            self.routes.pop(app, None)
        else:
            self.routes[app] = value
        self.mark(app)

    def saw_endpoints(self, sequence: int) -> None:
        """Note that KV `endpoints` was read up to stream `sequence` (after its entry went in)."""
        self.endpoints_sequence = max(self.endpoints_sequence, sequence)
        self.read.set()

    def put_endpoints(self, app: str, value: endpoints_kv.Endpoints | None) -> None:
        """Note the app's latest endpoints (None: deleted)."""
        if _same(self.endpoints.get(app), value):
            return
        if value is None:
            self.endpoints.pop(app, None)
        else:
            self.endpoints[app] = value
        self.mark(app, routes=False)

    def take(self) -> Batch:
        """The changed apps so far; the change set starts empty again."""
        batch = Batch(
            apps=frozenset(self._dirty),
            routes=frozenset(self._routes_dirty),
            since=self._since or time.monotonic(),
            endpoints_sequence=self.endpoints_sequence,
        )
        self._dirty = set()
        self._routes_dirty = set()
        self._since = None
        self.changed.clear()
        return batch
