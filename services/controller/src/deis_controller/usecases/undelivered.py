"""Telling an app's log that a change of the app could not be delivered.

The controller sends each app's whole desired state and routes as KV values `desired` and
`routes`, keyed by the app's name, through the outbox (`state.sync`). When the outbox relay
sets such a row aside as dead (`deis_shared.outbox.dead`: too large for the bus, or refused
again and again), the scheduler or the router never sees that change, and the app goes on as
before until its next change is delivered. `report` is the relay's hook: in the transaction
that marks the row dead, it writes a platform line into the app's log that says what was not
delivered, why, and what the user can do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

import asyncpg

from deis_controller.usecases import state
from deis_shared import appnames
from deis_shared.kv import desired as desired_kv, routes as routes_kv
from deis_shared.outbox import dead

if TYPE_CHECKING:
    from deis_shared.db.pool import Connection


@dataclass(frozen=True)
class _Bucket:
    """What a user should read about one of the controller's KV buckets."""

    reader: str
    """Who reads the bucket."""

    value: str
    """What an app's value holds."""

    shrink: str
    """How a user makes the value smaller."""

    meanwhile: str
    """What goes on while a change is not delivered."""


_BUCKETS = {
    desired_kv.BUCKET: _Bucket(
        reader="the scheduler",
        value="the app's desired state (its release, config and process formation)",
        shrink="make the config smaller (e.g. `deis config:unset` a large value)",
        meanwhile="the app keeps running as before",
    ),
    routes_kv.BUCKET: _Bucket(
        reader="the router",
        value="the app's routes (its domains, certificates and whitelist)",
        shrink="remove domains, certificates or whitelist entries",
        meanwhile="the app's traffic is routed as before",
    ),
}


async def report(conn: Connection, row: dead.DeadRow) -> None:
    """Write the app's log line for a dead `desired` or `routes` row; other rows are ignored.

    Args:
        conn: The connection of the relay's transaction that marks the row dead.
        row: The dead row; its key is the app name.
    """
    if row.bucket not in _BUCKETS or row.key is None:
        return
    try:
        app = appnames.validate_app_name(row.key)
    except appnames.InvalidAppName:
        return  # not one of ours: nobody's log to write to
    # The relay's connection is a pool proxy, which forwards every call to its connection.
    await state.platform_log(cast(asyncpg.Connection, conn), app_id=app, message=message(row))


def message(row: dead.DeadRow) -> str:
    """The platform line for a dead `desired` or `routes` row of an app.

    Args:
        row: The dead row, of bucket `desired` or `routes`.

    Returns:
        One line: what was not delivered, why, and what to do.

    Raises:
        KeyError: If the row is of another bucket.
    """
    bucket = _BUCKETS[row.bucket or ""]
    if row.kind == "kv_delete":
        return (
            f"the removal of this app could not be delivered to {bucket.reader} "
            f"({row.error}); ask the platform operator to stop what is left of it"
        )
    if row.too_large:
        return (
            f"a change could not be delivered to {bucket.reader}: {bucket.value} is "
            f"{_size(row.size)}, more than the {_size(row.max_payload)} the platform's message "
            f"bus carries, so {bucket.meanwhile}. To apply changes again, {bucket.shrink}: "
            "the next change that fits is delivered"
        )
    return (
        f"a change could not be delivered to {bucket.reader} after {row.attempts} attempts "
        f"({row.error}), so {bucket.meanwhile}. The app's next change is delivered as "
        "usual; if this happens again, tell the platform operator"
    )


def _size(n: int) -> str:
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):.1f} MiB"
    if n >= 1024:
        return f"{n / 1024:.1f} KiB"
    return f"{n} bytes"
