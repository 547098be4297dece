"""TLS certificates (docs/api.md §2.8): upload, list, show, delete, attach to and detach.

Certificates are global and belong to the user who uploaded them; nobody else sees them, not
even an admin (a lookup of someone else's is a 404, as upstream's owner-filtered queryset).
The router learns of them through the `routes` value of each app whose domains they are
attached to, so attaching, detaching and deleting re-send the value of every app affected.

Uploads are checked by `domain.certificates` (validity dates, key match, nothing around the
PEM blocks, size limits from the settings) before anything is written. A certificate that
expires within 30 days is accepted; `Certificate.expiry_warning` words what the API shows with it.

Lock order: the certificate's row first (`FOR UPDATE`), then app rows in uuid order, so an
attach cannot slip a new app in between a delete's look-up of its apps and the delete.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg

from deis_controller import errors
from deis_controller.domain import certificates
from deis_controller.domain.formats import timestamp
from deis_controller.settings import ControllerSettings
from deis_controller.usecases import domains as app_domains, state
from deis_controller.usecases.records import User

NAME_TAKEN = "Certificate with this name already exists."
DOMAIN_REQUIRED = "domain is a required field"
ALREADY_ATTACHED = "Domain already has a certificate attached to it"

_SELECT = """
SELECT c.id, c.name, c.common_name, c.san, c.fingerprint, c.expires, c.starts, c.issuer,
       c.subject, o.username AS owner, c.created, c.updated,
       ARRAY(SELECT d.domain FROM domains d WHERE d.certificate_id = c.id ORDER BY d.domain)
           AS domains
FROM certificates c JOIN users o ON o.id = c.owner_id
"""


@dataclass(frozen=True)
class Certificate:
    """An uploaded certificate, without its PEM texts."""

    id: int
    name: str
    common_name: str | None
    san: list[str]
    fingerprint: str
    expires: datetime
    starts: datetime
    issuer: str
    subject: str
    domains: list[str]
    owner: str
    created: datetime
    updated: datetime

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> "Certificate":
        """Build from a row of `_SELECT`."""
        values = {name: row[name] for name in cls.__dataclass_fields__}
        values["san"] = list(values["san"])
        values["domains"] = list(values["domains"])
        return cls(**values)

    def public(self) -> dict[str, Any]:
        """The Cert object of docs/api.md §2.8."""
        return {
            "id": self.id,
            "name": self.name,
            "common_name": self.common_name,
            "san": self.san,
            "fingerprint": self.fingerprint,
            "expires": timestamp(self.expires),
            "starts": timestamp(self.starts),
            "issuer": self.issuer,
            "subject": self.subject,
            "domains": self.domains,
            "owner": self.owner,
            "created": timestamp(self.created),
            "updated": timestamp(self.updated),
        }

    def expiry_warning(self, *, now: datetime) -> str | None:
        """A warning for a certificate that expires within 30 days (or has expired), if it does."""
        return certificates.expiry_warning(self.expires, now=now)


async def list_certificates(
    conn: asyncpg.Connection, *, user: User, limit: int, offset: int
) -> tuple[int, list[Certificate]]:
    """One page of the caller's own certificates, by name."""
    count = await conn.fetchval("SELECT count(*) FROM certificates WHERE owner_id = $1", user.id)
    rows = await conn.fetch(
        f"{_SELECT} WHERE c.owner_id = $1 ORDER BY c.name LIMIT $2 OFFSET $3",
        user.id,
        limit,
        offset,
    )
    return count, [Certificate.from_row(row) for row in rows]


async def get_certificate(conn: asyncpg.Connection, *, user: User, name: str) -> Certificate:
    """One of the caller's certificates.

    Raises:
        NotFound: The caller has no certificate of that name.
    """
    row = await conn.fetchrow(f"{_SELECT} WHERE c.name = $1 AND c.owner_id = $2", name, user.id)
    if row is None:
        raise errors.NotFound("Certificate")
    return Certificate.from_row(row)


def _pem(data: dict[str, Any], field: str, problems: dict[str, list[str]]) -> str | None:
    """A PEM text field as DRF's CharField reads it, or `None` with its error recorded."""
    value = data.get(field)
    if field not in data:
        problems[field] = ["This field is required."]
    elif value is None:
        problems[field] = ["This field may not be null."]
    elif not isinstance(value, str):
        problems[field] = ["Not a valid string."]
    elif not value.strip():
        problems[field] = ["This field may not be blank."]
    else:
        return value
    return None


async def create_certificate(
    conn: asyncpg.Connection, *, settings: ControllerSettings, user: User, data: dict[str, Any]
) -> Certificate:
    """Upload a certificate and its private key under a name unique across all users.

    Every field is checked and all problems are answered at once, as DRF does; the
    certificate must be valid now, its key must be its own, and neither may carry anything but
    PEM blocks and whitespace nor exceed its size limit (`domain.certificates`).

    Raises:
        FieldErrors: On `name`, `certificate` or `key`.
    """
    problems: dict[str, list[str]] = {}
    name: str | None = None
    if "name" not in data:
        problems["name"] = ["This field is required."]
    elif data["name"] is None:
        problems["name"] = ["This field may not be null."]
    else:
        try:
            name = certificates.validate_cert_name(data["name"])
        except errors.FieldErrors as exc:
            problems.update(exc.fields)
    pem = _pem(data, "certificate", problems)
    key = _pem(data, "key", problems)
    facts = None
    if pem is not None and key is not None:
        try:
            facts = certificates.parse_certificate(
                certificate=pem,
                key=key,
                now=datetime.now(UTC),
                max_certificate_length=settings.max_certificate_bytes,
                max_key_length=settings.max_certificate_key_bytes,
            )
        except errors.FieldErrors as exc:
            problems.update(exc.fields)
    if name is not None and await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM certificates WHERE name = $1)", name
    ):
        problems["name"] = [NAME_TAKEN]
    if problems or name is None or pem is None or key is None or facts is None:
        raise errors.FieldErrors(problems)
    try:
        row_id = await conn.fetchval(
            """
            INSERT INTO certificates (name, owner_id, certificate, key, common_name, san,
                                      fingerprint, issuer, subject, starts, expires)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id
            """,
            name,
            user.id,
            pem,
            key,
            facts.common_name,
            facts.san,
            facts.fingerprint,
            facts.issuer,
            facts.subject,
            facts.starts,
            facts.expires,
        )
    except asyncpg.UniqueViolationError as exc:
        raise errors.FieldErrors.one("name", NAME_TAKEN) from exc
    row = await conn.fetchrow(f"{_SELECT} WHERE c.id = $1", row_id)
    assert row is not None
    return Certificate.from_row(row)


async def _lock_own(conn: asyncpg.Connection, *, user: User, name: str) -> int:
    """Lock the caller's certificate `name` for the transaction; its id.

    Raises:
        NotFound: The caller has no certificate of that name.
    """
    cert_id: int | None = await conn.fetchval(
        "SELECT id FROM certificates WHERE name = $1 AND owner_id = $2 FOR UPDATE",
        name,
        user.id,
    )
    if cert_id is None:
        raise errors.NotFound("Certificate")
    return cert_id


async def _resync(
    conn: asyncpg.Connection, *, settings: ControllerSettings, app_uuids: list[UUID]
) -> None:
    for app_uuid in sorted(set(app_uuids)):
        await state.sync(conn, settings=settings, app_uuid=app_uuid)


async def delete_certificate(
    conn: asyncpg.Connection, *, settings: ControllerSettings, user: User, name: str
) -> None:
    """Delete one of the caller's certificates, detaching it from its domains first.

    Raises:
        NotFound: The caller has no certificate of that name.
    """
    async with conn.transaction():
        cert_id = await _lock_own(conn, user=user, name=name)
        attached = await conn.fetch(
            """
            SELECT d.domain, d.app_uuid, a.id AS app_id
            FROM domains d JOIN apps a ON a.uuid = d.app_uuid
            WHERE d.certificate_id = $1 ORDER BY a.uuid, d.domain
            """,
            cert_id,
        )
        for app_uuid in sorted({row["app_uuid"] for row in attached}):
            await state.lock_app(conn, app_uuid=app_uuid)
        await conn.execute(
            "UPDATE domains SET certificate_id = NULL, updated = now() WHERE certificate_id = $1",
            cert_id,
        )
        await conn.execute("DELETE FROM certificates WHERE id = $1", cert_id)
        await _resync(conn, settings=settings, app_uuids=[row["app_uuid"] for row in attached])
        for row in attached:
            await state.platform_log(
                conn,
                app_id=row["app_id"],
                message=f"{user.username} detached certificate {name} from {row['domain']}",
            )


async def _domain_row(conn: asyncpg.Connection, *, domain: Any) -> asyncpg.Record:
    """The domain named in a request (Unicode or ACE).

    Raises:
        NotFound: No app has that domain.
    """
    row = None
    if isinstance(domain, str):
        row = await conn.fetchrow(
            """
            SELECT d.id, d.domain, d.app_uuid, a.id AS app_id
            FROM domains d JOIN apps a ON a.uuid = d.app_uuid WHERE d.domain = $1
            """,
            app_domains.lookup_form(domain),
        )
    if row is None:
        raise errors.NotFound("Domain")
    return row


async def attach(
    conn: asyncpg.Connection,
    *,
    settings: ControllerSettings,
    user: User,
    name: str,
    domain: Any,
) -> None:
    """Serve the caller's certificate on a domain (of any app, as upstream: docs/api.md §2.8).

    Raises:
        BadRequest: No domain given.
        NotFound: No such certificate of the caller's, or no such domain.
        Conflict: The domain already has a certificate.
    """
    if domain is None:
        raise errors.BadRequest(DOMAIN_REQUIRED)
    async with conn.transaction():
        cert_id = await _lock_own(conn, user=user, name=name)
        found = await _domain_row(conn, domain=domain)
        await state.lock_app(conn, app_uuid=found["app_uuid"])
        status = await conn.execute(
            "UPDATE domains SET certificate_id = $2, updated = now()"
            " WHERE id = $1 AND certificate_id IS NULL",
            found["id"],
            cert_id,
        )
        if status == "UPDATE 0":
            if not await conn.fetchval(
                "SELECT EXISTS (SELECT 1 FROM domains WHERE id = $1)", found["id"]
            ):
                raise errors.NotFound("Domain")
            raise errors.Conflict(ALREADY_ATTACHED)
        await state.sync(conn, settings=settings, app_uuid=found["app_uuid"])
        await state.platform_log(
            conn,
            app_id=found["app_id"],
            message=f"{user.username} attached certificate {name} to {found['domain']}",
        )


async def detach(
    conn: asyncpg.Connection,
    *,
    settings: ControllerSettings,
    user: User,
    name: str,
    domain: str,
) -> None:
    """Stop serving the caller's certificate on a domain.

    A domain without a certificate is left as it is (204, as upstream). Unlike upstream,
    which cleared whatever certificate the domain had, a domain carrying someone else's
    certificate is not this certificate's to detach: it answers as an unknown domain.

    Raises:
        NotFound: No such certificate of the caller's, no such domain, or the domain carries
            another certificate.
    """
    async with conn.transaction():
        cert_id = await _lock_own(conn, user=user, name=name)
        found = await _domain_row(conn, domain=domain)
        await state.lock_app(conn, app_uuid=found["app_uuid"])
        current = await conn.fetchrow(
            "SELECT certificate_id FROM domains WHERE id = $1", found["id"]
        )
        if current is None:
            raise errors.NotFound("Domain")
        if current["certificate_id"] is None:
            return
        if current["certificate_id"] != cert_id:
            raise errors.NotFound("Domain")
        await conn.execute(
            "UPDATE domains SET certificate_id = NULL, updated = now() WHERE id = $1", found["id"]
        )
        await state.sync(conn, settings=settings, app_uuid=found["app_uuid"])
        await state.platform_log(
            conn,
            app_id=found["app_id"],
            message=f"{user.username} detached certificate {name} from {found['domain']}",
        )
