"""Follow KV `routes` and `endpoints` into the routing table.

Each bucket has its own watch task. The watch delivers every key's latest value first, then
each change; `synced` is set once the first pass is done (the server said nothing was pending,
or the bucket holds nothing at all), so the first configuration nginx starts with is whole.
"""

import asyncio
import logging
from collections.abc import Callable
from typing import Any, Literal

from deis_router_agent.app.table import RoutingTable
from deis_shared import appnames, wire
from deis_shared.bus import connection, errors as bus_errors, kv
from deis_shared.kv import endpoints as endpoints_kv, routes as routes_kv
from deis_shared.kv.bucket import Bucket

logger = logging.getLogger(__name__)

Kind = Literal["routes", "endpoints"]


async def bucket_is_empty(js: connection.JetStream, *, bucket: Bucket[Any]) -> bool:
    """Whether the bucket's stream holds no message at all (a watch would deliver nothing)."""
    try:
        return await kv.count(js, bucket) == 0
    except bus_errors.BusError:
        return False


def _offer(table: RoutingTable, *, kind: Kind, entry: kv.Entry[Any]) -> None:
    try:
        app = appnames.validate_app_name(entry.key)
    except appnames.InvalidAppName:
        logger.warning("ignoring %s under key %r", kind, entry.key)
        return
    try:
        if kind == "routes":
            routes: routes_kv.Routes | None = entry.value()
            if routes is not None and routes.app != app:
                raise wire.InvalidPayload(f"routes of {routes.app} under key {app}")
            table.put_routes(app, routes)
        else:
            value: endpoints_kv.Endpoints | None = entry.value()
            if value is not None and value.app != app:
                raise wire.InvalidPayload(f"endpoints of {value.app} under key {app}")
            table.put_endpoints(app, value)
    except wire.InvalidPayload as error:
        # The app keeps what it had: a bad value must not take down what is served.
        logger.error("ignoring %s of %s: %s", kind, app, error)


async def follow(
    *,
    watch: Callable[[], kv.Watcher[Any]],
    table: RoutingTable,
    kind: Kind,
    synced: asyncio.Event,
) -> None:
    """Feed every entry of the watch into `table`; runs until cancelled."""
    watcher = watch()
    try:
        async for entry in watcher:
            _offer(table, kind=kind, entry=entry)
            if kind == "endpoints":
                table.saw_endpoints(entry.revision)  # a value ignored counts as read too
            if entry.pending == 0:
                synced.set()
    finally:
        await watcher.close()
