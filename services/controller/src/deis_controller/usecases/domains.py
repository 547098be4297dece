"""Custom domains of an app (docs/api.md §2.7): list, add, remove.

Domains are unique across all apps and stored in ACE form. Every change takes the app's lock
and re-sends its `routes` value (which lists the domains and the certificates attached to
them) in the same transaction, with a platform log line.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from deis_controller import errors
from deis_controller.domain import hostnames
from deis_controller.domain.formats import timestamp
from deis_controller.settings import ControllerSettings
from deis_controller.usecases import state
from deis_controller.usecases.records import App, AppAccess

EXACT_DUPLICATE = "Domain is already in use by another application"

_FROM = """
FROM domains d JOIN apps a ON a.uuid = d.app_uuid JOIN users o ON o.id = d.owner_id
"""

_COLUMNS = "d.domain, a.id AS app, o.username AS owner, d.created, d.updated"


@dataclass(frozen=True)
class Domain:
    """A domain of an app."""

    domain: str
    app: str
    owner: str
    created: datetime
    updated: datetime

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> "Domain":
        """Build from a row selected with `_COLUMNS`."""
        return cls(**{name: row[name] for name in cls.__dataclass_fields__})

    def public(self) -> dict[str, Any]:
        """The Domain object of docs/api.md §3.1."""
        return {
            "owner": self.owner,
            "app": self.app,
            "domain": self.domain,
            "created": timestamp(self.created),
            "updated": timestamp(self.updated),
        }


def lookup_form(value: str) -> str:
    """The stored form of a domain named in a URL or body: ACE if it converts, else as given.

    Upstream looked names up by their IDNA encoding; a name that cannot be encoded matches
    nothing rather than failing.
    """
    try:
        return hostnames.normalize_domain(value)
    except errors.FieldErrors:
        return value


async def list_domains(
    conn: asyncpg.Connection, *, app: App, limit: int, offset: int
) -> tuple[int, list[Domain]]:
    """One page of the app's domains, by name."""
    count = await conn.fetchval("SELECT count(*) FROM domains WHERE app_uuid = $1", app.uuid)
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} {_FROM} WHERE d.app_uuid = $1 ORDER BY d.domain LIMIT $2 OFFSET $3",
        app.uuid,
        limit,
        offset,
    )
    return count, [Domain.from_row(row) for row in rows]


def _requested(data: dict[str, Any]) -> str:
    """The `domain` field as DRF's CharField reads it (trimmed), before hostname checks."""
    if "domain" not in data:
        raise errors.FieldErrors.one("domain", "This field is required.")
    value = data["domain"]
    if value is None:
        raise errors.FieldErrors.one("domain", "This field may not be null.")
    if not isinstance(value, str):
        raise errors.FieldErrors.one("domain", "Not a valid string.")
    return value.strip()


async def _taken(conn: asyncpg.Connection, *, domain: str) -> bool:
    found: bool = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM domains WHERE domain = $1)", domain
    )
    return found


async def add_domain(
    conn: asyncpg.Connection,
    *,
    settings: ControllerSettings,
    access: AppAccess,
    data: dict[str, Any],
) -> Domain:
    """Claim a domain for the app.

    Uniqueness is checked twice, as Deis does: the value as sent against the stored names
    (its model's unique message), then its ACE form (its serializer's message, naming the
    value as sent without its trailing dot).

    Raises:
        FieldErrors: On `domain`: missing, invalid, or already claimed by some app.
    """
    raw = _requested(data)
    async with conn.transaction():
        await state.lock_app(conn, app_uuid=access.app.uuid)
        if raw and await _taken(conn, domain=raw):
            raise errors.FieldErrors.one("domain", EXACT_DUPLICATE)
        ace = hostnames.normalize_domain(raw)
        if await _taken(conn, domain=ace):
            shown = raw[:-1] if raw.endswith(".") else raw
            raise errors.FieldErrors.one(
                "domain", f"The domain {shown} is already in use by another app"
            )
        try:
            await conn.execute(
                "INSERT INTO domains (app_uuid, owner_id, domain) VALUES ($1, $2, $3)",
                access.app.uuid,
                access.user.id,
                ace,
            )
        except asyncpg.UniqueViolationError as exc:
            raise errors.FieldErrors.one("domain", EXACT_DUPLICATE) from exc
        await state.sync(conn, settings=settings, app_uuid=access.app.uuid)
        await state.platform_log(
            conn, app_id=access.app.id, message=f"{access.user.username} added domain {ace}"
        )
        row = await conn.fetchrow(f"SELECT {_COLUMNS} {_FROM} WHERE d.domain = $1", ace)
    assert row is not None
    return Domain.from_row(row)


async def remove_domain(
    conn: asyncpg.Connection, *, settings: ControllerSettings, access: AppAccess, domain: str
) -> None:
    """Release one of the app's domains (Unicode or ACE form); its certificate goes with it.

    Raises:
        PermissionDenied: The caller is a collaborator.
        NotFound: The app has no such domain.
    """
    if not access.may_delete:
        raise errors.PermissionDenied()
    stored = lookup_form(domain)
    async with conn.transaction():
        await state.lock_app(conn, app_uuid=access.app.uuid)
        status = await conn.execute(
            "DELETE FROM domains WHERE app_uuid = $1 AND domain = $2", access.app.uuid, stored
        )
        if status == "DELETE 0":
            raise errors.NotFound("Domain")
        await state.sync(conn, settings=settings, app_uuid=access.app.uuid)
        await state.platform_log(
            conn,
            app_id=access.app.id,
            message=f"{access.user.username} removed domain {stored}",
        )
