"""The certificate issuer: one pass over the apps under automatic TLS (ACME, HTTP-01).

A pass runs only while it holds a PostgreSQL session advisory lock (`pg_try_advisory_lock`,
key `advisory_key("acme-issuer", <schema>)`), so one issuer works at a time across replicas
and restarts; a replica that cannot take it skips the pass. A pass uses that one connection
for everything, so it never holds one while waiting for another. Under the lock, the pass

1. brings `acme_domains` in line with the apps: a row per domain of each app with automatic
   TLS on (wildcards `failed` for good: HTTP-01 cannot validate them); a row whose domain
   (or app) is gone has its certificate detached and deleted, and goes;
2. orders a certificate for every domain without a live one of its own, or whose own has
   less than a third of its life left, and not waiting out a backoff: the order's URL and
   CSR key are stored before anything else happens, so a pass killed mid-order resumes that
   same order next time (no duplicate certificate); each HTTP-01 answer is written to KV
   `challenges` (through the outbox, waiting until it is sent) before the server is told;
3. stores the certificate like an uploaded one (same table and checks, owned by the app's
   owner, named `auto-<domain>`) and attaches it in one transaction that also drops the one
   it renews and re-sends the app's `routes` (as `certs:attach` does); then deletes its
   challenges from KV.

A failure marks only its domain `failed`, with the ACME problem as `last_error`, and a
doubling backoff (`Retry-After` honoured); the app's log says so. Automatic TLS turned off
stops new orders; the certificates issued stay until they expire or are removed.

Over 400 lines: the steps of a pass share the row shape of `_ROWS` and the order of writes
that makes a restart safe, which reads best in one place; the ACME protocol itself is in
`ordering`, the rules in `domain.issuance`.
"""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, cast
from uuid import UUID

import asyncpg

from deis_controller import errors
from deis_controller.domain import certificates, issuance
from deis_controller.settings import ControllerSettings
from deis_controller.usecases import ordering, state
from deis_shared.db import pool as db_pool
from deis_shared.kv import challenges as challenges_kv
from deis_shared.outbox import outbox

logger = logging.getLogger(__name__)

CHALLENGE_SEND_WAIT = 10.0
"""Seconds to wait for the outbox relay to write a challenge to KV before answering."""

AfterOrder = Callable[[str, str], Awaitable[None]]
"""Called with (domain, order URL) once an order is stored (tests stop a pass there)."""

_AUTO_APPS = """
SELECT a.uuid, a.id, a.owner_id FROM apps a
WHERE (SELECT t.certs_auto_enabled FROM tls t WHERE t.app_uuid = a.uuid
       ORDER BY t.seq DESC LIMIT 1) IS TRUE
"""

_ROWS = f"""
SELECT s.*, a.id AS app_id, a.owner_id, d.certificate_id AS attached,
       c.starts AS cert_starts, c.expires AS cert_expires
FROM acme_domains s
JOIN ({_AUTO_APPS}) a ON a.uuid = s.app_uuid
JOIN domains d ON d.app_uuid = s.app_uuid AND d.domain = s.domain
LEFT JOIN certificates c ON c.id = s.certificate_id
ORDER BY a.id, s.domain
"""


def _due(row: asyncpg.Record, *, now: datetime) -> bool:
    """Whether the pass must order a certificate for this row."""
    if issuance.is_wildcard(row["domain"]) or row["state"] == "manual":
        return False
    if row["next_attempt"] is not None and row["next_attempt"] > now:
        return False
    if row["state"] != "issued":
        return True
    if row["certificate_id"] is None or row["attached"] != row["certificate_id"]:
        return True
    return issuance.needs_renewal(starts=row["cert_starts"], expires=row["cert_expires"], now=now)


class Issuer:
    """Passes of the certificate issuer over the controller's database."""

    def __init__(
        self,
        *,
        pool: asyncpg.Pool,
        settings: ControllerSettings,
        after_order: AfterOrder | None = None,
    ) -> None:
        """An issuer using `pool`; `after_order` is a test hook (see `AfterOrder`)."""
        self._pool = pool
        self._settings = settings
        self._after_order = after_order
        self._held: asyncpg.Connection | None = None

    @contextlib.asynccontextmanager
    async def _connect(self) -> AsyncIterator[asyncpg.Connection]:
        """The pass's one connection.

        A pass never waits for a second connection while holding one, so a small pool cannot
        deadlock between the issuer and requests.
        """
        assert self._held is not None, "only inside run_pass"
        yield self._held

    async def run_pass(self) -> bool:
        """One pass, if no other issuer is running one; whether it ran."""
        async with self._pool.acquire() as conn:
            held = cast(asyncpg.Connection, conn)  # a pool proxy forwards every method
            key = db_pool.advisory_key(
                "acme-issuer", await held.fetchval("SELECT current_schema()")
            )
            if not await held.fetchval("SELECT pg_try_advisory_lock($1)", key):
                return False
            self._held = held
            try:
                await self._pass()
            finally:
                self._held = None
                # Also released when the pool resets the connection, should this be cancelled.
                await held.execute("SELECT pg_advisory_unlock($1)", key)
        return True

    async def _pass(self) -> None:
        await self._reconcile()
        now = datetime.now(UTC)
        async with self._connect() as conn:
            rows = await conn.fetch(_ROWS)
            for row in rows:
                if row["attached"] is not None and row["attached"] != row["certificate_id"]:
                    await self._set(conn, row, state="manual", last_error=None)
                elif row["state"] == "manual":
                    await self._set(conn, row, state="pending", last_error=None)
        due = [row for row in rows if row["attached"] in (None, row["certificate_id"])]
        due = [row for row in due if _due(row, now=now)]
        if not due:
            return
        try:
            conversation = await self._conversation()
        except ordering.OrderFailed as exc:
            for row in due:
                await self._failed(row, exc)
            return
        for row in due:
            try:
                await self._issue(conversation, row)
            except ordering.OrderFailed as exc:
                await self._failed(row, exc)

    async def _reconcile(self) -> None:
        """Rows for new domains of auto apps; rows of gone domains (and their certificates) go."""
        async with self._connect() as conn:
            await conn.execute(
                f"""
                INSERT INTO acme_domains (app_uuid, domain, state, last_error)
                SELECT d.app_uuid, d.domain,
                       CASE WHEN d.domain LIKE '*%' THEN 'failed' ELSE 'pending' END,
                       CASE WHEN d.domain LIKE '*%' THEN $1 END
                FROM domains d JOIN ({_AUTO_APPS}) a ON a.uuid = d.app_uuid
                -- the app's own name is its default domain, under the platform domain: only
                -- where the ACME server can reach that
                WHERE d.domain <> a.id OR $2
                ON CONFLICT DO NOTHING
                """,
                issuance.WILDCARD,
                self._settings.acme_platform_domain_public,
            )
            gone = await conn.fetch(
                """
                SELECT s.app_uuid, s.domain, s.certificate_id, a.id AS app_id
                FROM acme_domains s LEFT JOIN apps a ON a.uuid = s.app_uuid
                WHERE NOT EXISTS (SELECT 1 FROM domains d
                                  WHERE d.app_uuid = s.app_uuid AND d.domain = s.domain)
                """
            )
            for row in gone:
                await self._forget(conn, row)

    async def _forget(self, conn: asyncpg.Connection, row: asyncpg.Record) -> None:
        async with conn.transaction():
            if row["app_id"] is not None:
                await state.lock_app(conn, app_uuid=row["app_uuid"])
            name = None
            if row["certificate_id"] is not None:
                attached = await conn.fetch(
                    "UPDATE domains SET certificate_id = NULL, updated = now()"
                    " WHERE certificate_id = $1 RETURNING app_uuid",
                    row["certificate_id"],
                )
                name = await conn.fetchval(
                    "DELETE FROM certificates WHERE id = $1 RETURNING name", row["certificate_id"]
                )
                await _resync(conn, settings=self._settings, apps=[r["app_uuid"] for r in attached])
            await conn.execute(
                "DELETE FROM acme_domains WHERE app_uuid = $1 AND domain = $2",
                row["app_uuid"],
                row["domain"],
            )
            if row["app_id"] is not None and name is not None:
                await state.platform_log(
                    conn,
                    app_id=row["app_id"],
                    message=f"deleted certificate {name} of removed domain {row['domain']}",
                )

    async def _conversation(self) -> ordering.Conversation:
        """A connected ACME client, with the account key made and stored on first use."""
        directory = self._settings.acme_directory
        async with self._connect() as conn:
            await conn.execute(
                "INSERT INTO acme_accounts (directory, key) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                directory,
                await asyncio.to_thread(ordering.new_account_key),
            )
            account = await conn.fetchrow(
                "SELECT key, uri FROM acme_accounts WHERE directory = $1", directory
            )
        assert account is not None
        conversation = ordering.Conversation(
            directory=directory,
            account_key=account["key"],
            account_uri=account["uri"],
            ca_bundle=self._settings.acme_ca_bundle,
            email=self._settings.acme_email,
            timeout=self._settings.acme_order_timeout,
        )
        await asyncio.to_thread(conversation.connect)
        if conversation.account_uri != account["uri"]:
            async with self._connect() as conn:
                await conn.execute(
                    "UPDATE acme_accounts SET uri = $2 WHERE directory = $1",
                    directory,
                    conversation.account_uri,
                )
        return conversation

    async def _issue(self, conversation: ordering.Conversation, row: asyncpg.Record) -> None:
        domain = row["domain"]
        name = issuance.served_name(domain, platform_domain=self._settings.platform_domain)
        if row["order_url"] is not None and row["state"] == "issuing":
            key_pem = row["order_key"]
            order = await asyncio.to_thread(
                conversation.resume, url=row["order_url"], domain=name, key_pem=key_pem
            )
        else:
            key_pem = await asyncio.to_thread(ordering.new_certificate_key)
            order = await asyncio.to_thread(conversation.place, domain=name, key_pem=key_pem)
            async with self._connect() as conn:
                await conn.execute(
                    """
                    UPDATE acme_domains SET state = 'issuing', order_url = $3, order_key = $4,
                                            updated = now()
                    WHERE app_uuid = $1 AND domain = $2
                    """,
                    row["app_uuid"],
                    domain,
                    order.url,
                    key_pem,
                )
        if self._after_order is not None:
            await self._after_order(domain, order.url)
        tokens = [answer.token for answer in order.answers]
        try:
            if order.answers:
                await self._publish(row, order.answers)
                for answer in order.answers:
                    await asyncio.to_thread(conversation.answer, answer)
            chain = await asyncio.to_thread(conversation.finish, order)
            await self._install(row, chain=chain, key_pem=key_pem)
        finally:
            if tokens:
                async with self._connect() as conn, conn.transaction():
                    for token in tokens:
                        await outbox.enqueue_delete(conn, challenges_kv.SPEC, token)

    async def _publish(self, row: asyncpg.Record, answers: list[ordering.Answer]) -> None:
        """Write the answers to KV `challenges` and wait until the relay has sent them."""
        async with self._connect() as conn:
            async with conn.transaction():
                ids = [
                    await outbox.enqueue_put(
                        conn,
                        challenges_kv.SPEC,
                        answer.token,
                        challenges_kv.Challenge(
                            token=answer.token,
                            key_authorization=answer.key_authorization,
                            app=row["app_id"],
                            domain=issuance.served_name(
                                row["domain"], platform_domain=self._settings.platform_domain
                            ),
                        ),
                    )
                    for answer in answers
                ]
            loop = asyncio.get_running_loop()
            deadline = loop.time() + CHALLENGE_SEND_WAIT
            while await conn.fetchval(
                "SELECT EXISTS (SELECT 1 FROM outbox WHERE id = ANY($1::uuid[])"
                " AND sent_at IS NULL AND dead_at IS NULL)",
                ids,
            ):
                if loop.time() > deadline:
                    raise ordering.OrderFailed("the challenge answers could not be published")
                await asyncio.sleep(0.05)

    async def _install(self, row: asyncpg.Record, *, chain: str, key_pem: str) -> None:
        """Store the certificate, attach it in place of the old one, re-send the routes."""
        try:
            facts = certificates.parse_certificate(
                certificate=chain,
                key=key_pem,
                now=datetime.now(UTC),
                max_certificate_length=self._settings.max_certificate_bytes,
                max_key_length=self._settings.max_certificate_key_bytes,
            )
        except errors.FieldErrors as exc:
            raise ordering.OrderFailed(f"the issued certificate is unusable: {exc.fields}") from exc
        async with self._connect() as conn, conn.transaction():
            if await state.lock_app(conn, app_uuid=row["app_uuid"]) is None:
                return
            domain = await conn.fetchrow(
                "SELECT id, certificate_id FROM domains WHERE app_uuid = $1 AND domain = $2"
                " FOR UPDATE",
                row["app_uuid"],
                row["domain"],
            )
            old = await conn.fetchval(
                "SELECT certificate_id FROM acme_domains WHERE app_uuid = $1 AND domain = $2",
                row["app_uuid"],
                row["domain"],
            )
            if domain is None or domain["certificate_id"] not in (None, old):
                return  # removed, or an uploaded certificate took the domain meanwhile
            if old is not None:
                await conn.execute(
                    "UPDATE domains SET certificate_id = NULL WHERE certificate_id = $1", old
                )
                await conn.execute("DELETE FROM certificates WHERE id = $1", old)
            name = await _free_name(conn, issuance.certificate_name(row["domain"]))
            cert_id = await conn.fetchval(
                """
                INSERT INTO certificates (name, owner_id, certificate, key, common_name, san,
                                          fingerprint, issuer, subject, starts, expires)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id
                """,
                name,
                row["owner_id"],
                chain,
                key_pem,
                facts.common_name,
                facts.san,
                facts.fingerprint,
                facts.issuer,
                facts.subject,
                facts.starts,
                facts.expires,
            )
            await conn.execute(
                "UPDATE domains SET certificate_id = $2, updated = now() WHERE id = $1",
                domain["id"],
                cert_id,
            )
            await conn.execute(
                """
                UPDATE acme_domains
                SET state = 'issued', certificate_id = $3, expires = $4, order_key = NULL,
                    last_error = NULL, attempts = 0, next_attempt = NULL, updated = now()
                WHERE app_uuid = $1 AND domain = $2
                """,
                row["app_uuid"],
                row["domain"],
                cert_id,
                facts.expires,
            )
            await state.sync(conn, settings=self._settings, app_uuid=row["app_uuid"])
            verb = "renewed" if old is not None else "issued"
            await state.platform_log(
                conn,
                app_id=row["app_id"],
                message=f"{verb} certificate {name} for {row['domain']}"
                f" (expires {facts.expires:%Y-%m-%d %H:%M} UTC)",
            )

    async def _failed(self, row: asyncpg.Record, exc: ordering.OrderFailed) -> None:
        attempts = row["attempts"] + 1
        wait = issuance.backoff(
            attempts=attempts,
            minimum=self._settings.acme_backoff_min,
            maximum=self._settings.acme_backoff_max,
            retry_after=exc.retry_after,
        )
        next_attempt = datetime.now(UTC) + wait
        logger.warning("ACME for %s (app %s) failed: %s", row["domain"], row["app_id"], exc)
        async with self._connect() as conn, conn.transaction():
            await conn.execute(
                """
                UPDATE acme_domains
                SET state = CASE WHEN $3 OR order_url IS NULL THEN 'failed' ELSE state END,
                    order_url = CASE WHEN $3 THEN NULL ELSE order_url END,
                    order_key = CASE WHEN $3 THEN NULL ELSE order_key END,
                    last_error = $4, attempts = $5, next_attempt = $6, updated = now()
                WHERE app_uuid = $1 AND domain = $2
                """,
                row["app_uuid"],
                row["domain"],
                exc.dead,
                str(exc),
                attempts,
                next_attempt,
            )
            await state.platform_log(
                conn,
                app_id=row["app_id"],
                message=f"automatic TLS for {row['domain']} failed: {exc}"
                f" (next attempt {next_attempt:%Y-%m-%d %H:%M:%S} UTC)",
            )

    async def _set(
        self, conn: asyncpg.Connection, row: asyncpg.Record, *, state: str, last_error: str | None
    ) -> None:
        await conn.execute(
            "UPDATE acme_domains SET state = $3, last_error = $4, updated = now()"
            " WHERE app_uuid = $1 AND domain = $2",
            row["app_uuid"],
            row["domain"],
            state,
            last_error,
        )


async def _free_name(conn: asyncpg.Connection, name: str) -> str:
    """`name`, or it numbered, whichever no certificate has yet."""
    candidate, number = name, 1
    while await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM certificates WHERE name = $1)", candidate
    ):
        number += 1
        candidate = issuance.numbered(name, number=number)
    return candidate


async def _resync(
    conn: asyncpg.Connection, *, settings: ControllerSettings, apps: list[Any]
) -> None:
    for app_uuid in sorted(set(apps)):
        await state.sync(conn, settings=settings, app_uuid=UUID(str(app_uuid)))


async def statuses(conn: asyncpg.Connection, *, app_uuid: UUID) -> list[dict[str, Any]]:
    """`certs_auto_status` of an app (docs/api.md §2.11): each domain's issuance state."""
    rows = await conn.fetch(
        """
        SELECT d.domain, coalesce(s.state, 'pending') AS state, c.name AS certificate,
               s.expires, s.last_error, s.next_attempt
        FROM domains d JOIN apps a ON a.uuid = d.app_uuid
        LEFT JOIN acme_domains s ON s.app_uuid = d.app_uuid AND s.domain = d.domain
        LEFT JOIN certificates c ON c.id = s.certificate_id
        -- the default domain (named as the app) only where the issuer certifies it
        WHERE d.app_uuid = $1 AND (d.domain <> a.id OR s.domain IS NOT NULL) ORDER BY d.domain
        """,
        app_uuid,
    )
    return [dict(row) for row in rows]
