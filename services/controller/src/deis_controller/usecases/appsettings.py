"""App settings, whitelist and TLS: append-only histories, read and changed (docs/api.md §2.11).

Every change appends a row (owned by the caller) to `app_settings` or `tls`, never updates
one, and within the same transaction takes the app's lock, recomputes the app's `desired` and
`routes` KV values (maintenance, routing, whitelist, HTTPS and autoscale live there) and logs a
platform line. A request that would change nothing is refused with 409, as Deis does.

A change of how the router serves the app (maintenance, routing, whitelist, HTTPS) answers
once the router says it serves it, within `route_wait` seconds (`waiting.Waiter.routed`), and
gets 409 while another change of the app waits, as config changes do. Autoscale and labels
answer once stored: no backend reports an autoscaler taken (the local one runs none; the
Kubernetes one applies the HorizontalPodAutoscaler and reports nothing of it), and labels are
metadata.
"""

import contextlib
import dataclasses
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from deis_controller import errors
from deis_controller.domain import appsettings as rules
from deis_controller.domain.formats import optional_timestamp, timestamp
from deis_controller.usecases import issuing, state, waiting
from deis_controller.usecases.context import Context
from deis_controller.usecases.records import AppAccess

ROUTING = ("maintenance", "routable", "whitelist")
"""The settings the router serves from (KV `routes`)."""

_SETTINGS = """
SELECT s.uuid, u.username AS owner, s.maintenance, s.routable, s.whitelist, s.autoscale,
       s.label, s.created, s.updated
FROM app_settings s JOIN users u ON u.id = s.owner_id
WHERE s.app_uuid = $1 ORDER BY s.seq DESC LIMIT 1
"""

_INSERT_SETTINGS = """
INSERT INTO app_settings (uuid, app_uuid, owner_id, maintenance, routable, whitelist, autoscale,
                          label)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
RETURNING uuid, created, updated
"""

_TLS = """
SELECT t.uuid, u.username AS owner, t.https_enforced, t.certs_auto_enabled, t.created,
       t.updated
FROM tls t JOIN users u ON u.id = t.owner_id
WHERE t.app_uuid = $1 ORDER BY t.seq DESC LIMIT 1
"""


@dataclass(frozen=True)
class AppSettings:
    """One row of an app's settings history."""

    uuid: UUID
    owner: str
    app: str
    maintenance: bool
    routable: bool
    whitelist: list[str]
    autoscale: dict[str, dict[str, int]]
    label: dict[str, Any]
    created: datetime
    updated: datetime

    def public(self) -> dict[str, Any]:
        """The AppSettings object of docs/api.md §3.1."""
        return {
            "uuid": str(self.uuid),
            "owner": self.owner,
            "app": self.app,
            "maintenance": self.maintenance,
            "routable": self.routable,
            "whitelist": self.whitelist,
            "autoscale": self.autoscale,
            "label": self.label,
            "created": timestamp(self.created),
            "updated": timestamp(self.updated),
        }

    def values(self) -> dict[str, Any]:
        """The changeable fields (`rules.FIELDS`)."""
        return {field: getattr(self, field) for field in rules.FIELDS}


@dataclass(frozen=True)
class Tls:
    """One row of an app's TLS history."""

    uuid: UUID
    owner: str
    app: str
    https_enforced: bool | None
    certs_auto_enabled: bool | None
    created: datetime
    updated: datetime
    certs_auto_status: list[dict[str, Any]] = field(default_factory=list)
    """Each domain's automatic TLS state (`issuing.statuses`); empty while it is off."""

    def public(self) -> dict[str, Any]:
        """The TLS object of docs/api.md §3.1, with automatic TLS (§2.11)."""
        return {
            "uuid": str(self.uuid),
            "owner": self.owner,
            "app": self.app,
            "https_enforced": self.https_enforced,
            "certs_auto_enabled": self.certs_auto_enabled,
            "certs_auto_status": [
                {
                    "domain": entry["domain"],
                    "state": entry["state"],
                    "certificate": entry["certificate"],
                    "expires": optional_timestamp(entry["expires"]),
                    "last_error": entry["last_error"],
                    "next_attempt": optional_timestamp(entry["next_attempt"]),
                }
                for entry in self.certs_auto_status
            ],
            "created": timestamp(self.created),
            "updated": timestamp(self.updated),
        }


def changed_nothing(user: str) -> errors.Conflict:
    """Deis's 409 for a change that changes nothing."""
    return errors.Conflict(f"{user} changed nothing")


async def current_settings(conn: asyncpg.Connection, *, app: AppAccess) -> AppSettings:
    """The app's latest settings.

    Raises:
        NotFound: The app has no settings row (not one created through the API).
    """
    row = await conn.fetchrow(_SETTINGS, app.app.uuid)
    if row is None:
        raise errors.NotFound("AppSettings")
    return AppSettings(app=app.app.id, **dict(row))


async def _append(
    conn: asyncpg.Connection,
    *,
    ctx: Context,
    app: AppAccess,
    values: dict[str, Any],
    parts: list[str],
) -> AppSettings:
    """Insert the next settings row and publish what it changes (inside a transaction)."""
    row = await conn.fetchrow(
        _INSERT_SETTINGS,
        uuid.uuid4(),
        app.app.uuid,
        app.user.id,
        values["maintenance"],
        values["routable"],
        values["whitelist"],
        values["autoscale"],
        values["label"],
    )
    assert row is not None
    await state.sync(conn, settings=ctx.settings, app_uuid=app.app.uuid)
    await state.platform_log(
        conn, app_id=app.app.id, message=f"{app.user.username} {', '.join(parts)}"
    )
    return AppSettings(
        uuid=row["uuid"],
        owner=app.user.username,
        app=app.app.id,
        created=row["created"],
        updated=row["updated"],
        **values,
    )


async def change_settings(*, ctx: Context, app: AppAccess, data: dict[str, Any]) -> AppSettings:
    """Append settings with the posted fields changed, answered once the router serves them.

    Raises:
        FieldErrors, BareListError, Unprocessable: See `apply`.
        Conflict: Nothing would change; or another change of the app waits for its outcome.
    """
    async with waiting.rollout(ctx, app=app.app, routing=True) as rollout:
        async with ctx.pool.acquire() as conn:
            before, changed = await _change_settings(_connection(conn), ctx=ctx, app=app, data=data)
        if any(before[field] != getattr(changed, field) for field in ROUTING):
            await rollout.routed()
    return changed


async def _change_settings(
    conn: asyncpg.Connection, *, ctx: Context, app: AppAccess, data: dict[str, Any]
) -> tuple[dict[str, Any], AppSettings]:
    """The settings before, and the row appended with the posted fields changed."""
    async with conn.transaction():
        await state.lock_app(conn, app_uuid=app.app.uuid)
        current = await current_settings(conn, app=app)
        values = rules.apply(current.values(), data)
        parts = rules.describe(current.values(), values)
        if not parts:
            raise changed_nothing(app.user.username)
        return current.values(), await _append(conn, ctx=ctx, app=app, values=values, parts=parts)


async def whitelist(conn: asyncpg.Connection, *, app: AppAccess) -> list[str]:
    """The addresses allowed to reach the app (all when empty)."""
    return (await current_settings(conn, app=app)).whitelist


async def add_addresses(*, ctx: Context, app: AppAccess, data: dict[str, Any]) -> list[str]:
    """Add `data["addresses"]` to the whitelist, answered once served; the whole whitelist after.

    Raises:
        FieldErrors: `addresses` is not a list.
        BareListError: An invalid address.
        Conflict: Every address is already there; or another change of the app waits.
    """
    addresses = rules.parse_addresses(data.get("addresses"))
    async with _served(ctx, app=app) as conn, conn.transaction():
        await state.lock_app(conn, app_uuid=app.app.uuid)
        current = await current_settings(conn, app=app)
        new = rules.unique([*current.whitelist, *addresses])
        if len(new) == len(current.whitelist):
            raise changed_nothing(app.user.username)
        values = {**current.values(), "whitelist": new}
        parts = rules.whitelist_changes(current.whitelist, new)
        added = await _append(conn, ctx=ctx, app=app, values=values, parts=parts)
    return added.whitelist


async def remove_addresses(*, ctx: Context, app: AppAccess, data: dict[str, Any]) -> None:
    """Remove `data["addresses"]` from the whitelist (owner or admin only), answered once served.

    Raises:
        PermissionDenied: The caller is a collaborator.
        FieldErrors, BareListError: As `add_addresses`.
        Unprocessable: An address is not in the whitelist.
        Conflict: Another change of the app waits.
    """
    if not app.may_delete:
        raise errors.PermissionDenied()
    addresses = rules.parse_addresses(data.get("addresses"))
    if not addresses:
        return
    async with _served(ctx, app=app) as conn, conn.transaction():
        await state.lock_app(conn, app_uuid=app.app.uuid)
        current = await current_settings(conn, app=app)
        missing = sorted(set(addresses) - set(current.whitelist))
        if missing:
            listed = ", ".join(repr(address) for address in missing)
            raise errors.Unprocessable(f"addresses {{{listed}}} does not exist in whitelist")
        new = [address for address in current.whitelist if address not in addresses]
        values = {**current.values(), "whitelist": new}
        parts = rules.whitelist_changes(current.whitelist, new)
        await _append(conn, ctx=ctx, app=app, values=values, parts=parts)


async def current_tls(conn: asyncpg.Connection, *, app: AppAccess) -> Tls:
    """The app's latest TLS setting, with each domain's automatic TLS state while it is on.

    Raises:
        NotFound: The app has no TLS row (not one created through the API).
    """
    row = await conn.fetchrow(_TLS, app.app.uuid)
    if row is None:
        raise errors.NotFound("TLS")
    tls = Tls(app=app.app.id, **dict(row))
    if not tls.certs_auto_enabled:
        return tls
    return dataclasses.replace(
        tls, certs_auto_status=await issuing.statuses(conn, app_uuid=app.app.uuid)
    )


_TLS_WORDS = {
    ("https_enforced", True): "enabled HTTPS enforcement",
    ("https_enforced", False): "disabled HTTPS enforcement",
    ("certs_auto_enabled", True): "enabled automatic TLS",
    ("certs_auto_enabled", False): "disabled automatic TLS",
}


async def change_tls(*, ctx: Context, app: AppAccess, data: dict[str, Any]) -> Tls:
    """Append a TLS row enforcing HTTPS or not, or with automatic TLS on or off, once served.

    Either field or both may be posted; the other carries forward. Automatic TLS turned on
    wakes the certificate issuer (`workers.issuing`).

    Raises:
        FieldErrors: A posted field is not a boolean, or neither is posted.
        Conflict: Every posted field already has its value (a never-set value, null, changes
            with any); or another change of the app waits.
    """
    posted = rules.parse_tls(data)
    async with _served(ctx, app=app) as conn, conn.transaction():
        await state.lock_app(conn, app_uuid=app.app.uuid)
        current = await current_tls(conn, app=app)
        changes = {name: value for name, value in posted.items() if getattr(current, name) != value}
        if not changes:
            raise changed_nothing(app.user.username)
        values = {
            "https_enforced": current.https_enforced,
            "certs_auto_enabled": current.certs_auto_enabled,
            **changes,
        }
        row = await conn.fetchrow(
            """
            INSERT INTO tls (uuid, app_uuid, owner_id, https_enforced, certs_auto_enabled)
            VALUES ($1, $2, $3, $4, $5)
            RETURNING uuid, created, updated
            """,
            uuid.uuid4(),
            app.app.uuid,
            app.user.id,
            values["https_enforced"],
            values["certs_auto_enabled"],
        )
        assert row is not None
        await state.sync(conn, settings=ctx.settings, app_uuid=app.app.uuid)
        words = " and ".join(_TLS_WORDS[name, value] for name, value in changes.items())
        await state.platform_log(conn, app_id=app.app.id, message=f"{app.user.username} {words}")
        statuses = []
        if values["certs_auto_enabled"]:
            statuses = await issuing.statuses(conn, app_uuid=app.app.uuid)
    if changes.get("certs_auto_enabled"):
        ctx.issuer_wake.set()
    return Tls(
        uuid=row["uuid"],
        owner=app.user.username,
        app=app.app.id,
        created=row["created"],
        updated=row["updated"],
        certs_auto_status=statuses,
        **values,
    )


@contextlib.asynccontextmanager
async def _served(ctx: Context, *, app: AppAccess) -> AsyncIterator[asyncpg.Connection]:
    """A connection to change the app's routes with; leaving, wait until the router serves them.

    Raises:
        Conflict: Another change of the app waits for its outcome.
    """
    async with waiting.rollout(ctx, app=app.app, routing=True) as rollout:
        async with ctx.pool.acquire() as conn:
            yield _connection(conn)
        await rollout.routed()


def _connection(conn: Any) -> asyncpg.Connection:
    # A pool proxy forwards every Connection method.
    return conn  # type: ignore[no-any-return]
