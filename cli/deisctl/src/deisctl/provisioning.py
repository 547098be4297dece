"""The embedded PostgreSQL's roles: each service that keeps state logs in as a role of its own.

A new cluster is made with password (SCRAM) authentication and a superuser password
(`initdb --pwfile`). Once it accepts connections, `provision` makes, idempotently:

- a role `deis_<service>` per service with a database schema (`SERVICE_SCHEMAS`), with a
  password of its own, that owns its schema and everything in it, and has no other rights: it
  may not create schemas, nor touch `public`, nor read another service's schema;
- the superuser's password, and for a cluster an earlier `deisctl` made with trust
  authentication, `pg_hba.conf` rewritten to SCRAM and reloaded (its data is kept, and
  handed to the services' roles).

The passwords are `secrets` of the data dir; `dsn` builds each service's URL.
"""

import asyncio
import os
import re
from pathlib import Path
from urllib.parse import quote

import asyncpg

from deisctl.errors import CtlError

SERVICE_SCHEMAS = {"controller": "controller", "builder": "builder"}
"""The services that keep state in PostgreSQL, and their schemas."""

SUPERUSER = "postgres"
DATABASE = "postgres"

HBA = """\
# Written by deisctl: every connection authenticates with a password (SCRAM).
local   all   all                  scram-sha-256
host    all   all   127.0.0.1/32   scram-sha-256
host    all   all   ::1/128        scram-sha-256
"""

_TRUST = re.compile(r"^\s*(local|host)\b.*\btrust\s*$", re.MULTILINE)


LOCKDOWN = (
    f"REVOKE ALL ON DATABASE {DATABASE} FROM PUBLIC",
    "REVOKE ALL ON SCHEMA public FROM PUBLIC",
)
"""Only the services' roles may connect, and nobody may use the `public` schema."""


def role(service: str) -> str:
    """The role `service` logs in as."""
    return f"deis_{service}"


def role_statements(service: str, *, password: str, exists: bool = False) -> list[str]:
    """The statements giving `service` its role and schema.

    `provision` runs them; `deisctl compose-env` writes them into PostgreSQL's first-start script.

    Args:
        service: One of `SERVICE_SCHEMAS`.
        password: The role's password as SQL: a quoted literal, or a psql variable (`:'name'`).
        exists: Whether the role exists: it is altered rather than created.
    """
    name = role(service)
    verb = "ALTER" if exists else "CREATE"
    return [
        f'{verb} ROLE "{name}" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD {password}',
        f'GRANT CONNECT ON DATABASE {DATABASE} TO "{name}"',
        f'CREATE SCHEMA IF NOT EXISTS "{SERVICE_SCHEMAS[service]}" AUTHORIZATION "{name}"',
    ]


def dsn(*, port: int, user: str, password: str) -> str:
    """The URL of the embedded cluster for `user`."""
    credentials = f"{quote(user, safe='')}:{quote(password, safe='')}"
    return f"postgresql://{credentials}@127.0.0.1:{port}/{DATABASE}"


def provision(*, port: int, data: Path, superuser_password: str, passwords: dict[str, str]) -> None:
    """Make the services' roles and schemas, and require passwords (see the module docstring).

    Args:
        port: Where the cluster listens (127.0.0.1).
        data: The cluster's data directory (`pg_hba.conf` is there).
        superuser_password: The password of `postgres`.
        passwords: The password of each service of `SERVICE_SCHEMAS`.

    Raises:
        CtlError: The cluster refused the superuser's password, or a statement failed.
    """
    try:
        asyncio.run(
            _provision(port=port, superuser_password=superuser_password, passwords=passwords)
        )
    except asyncpg.InvalidPasswordError:
        raise CtlError(
            f"PostgreSQL in {data} refused the superuser password kept in the data dir's"
            " secrets: restore that file, or give --database-url"
        ) from None
    except (asyncpg.PostgresError, OSError) as exc:
        raise CtlError(f"could not set up PostgreSQL's roles: {exc}") from exc
    hba = data / "pg_hba.conf"
    if _TRUST.search(hba.read_text()):
        stat = hba.stat()
        hba.write_text(HBA)
        os.chown(hba, stat.st_uid, stat.st_gid)
        asyncio.run(_reload(port=port, superuser_password=superuser_password))


async def _provision(*, port: int, superuser_password: str, passwords: dict[str, str]) -> None:
    conn = await asyncpg.connect(
        host="127.0.0.1", port=port, user=SUPERUSER, password=superuser_password, database=DATABASE
    )
    try:
        async with conn.transaction():
            await conn.execute(
                f"ALTER ROLE {SUPERUSER} PASSWORD {await _literal(conn, superuser_password)}"
            )
            for statement in LOCKDOWN:
                await conn.execute(statement)
            for service, schema in SERVICE_SCHEMAS.items():
                name = role(service)
                password = await _literal(conn, passwords[service])
                exists = await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", name)
                for statement in role_statements(service, password=password, exists=bool(exists)):
                    await conn.execute(statement)
                await _hand_over(conn, schema=schema, owner=name)
    finally:
        await conn.close()


async def _hand_over(conn: asyncpg.Connection, *, schema: str, owner: str) -> None:
    """Make `owner` own `schema` and what is in it (a cluster from before roles existed)."""
    await conn.execute(f'ALTER SCHEMA "{schema}" OWNER TO "{owner}"')
    rows = await conn.fetch(
        """
        SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
          AND pg_get_userbyid(c.relowner) <> $2
          AND NOT (c.relkind = 'S' AND EXISTS (
              SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('a', 'i')))
        """,
        schema,
        owner,
    )
    for row in rows:
        await conn.execute(f'ALTER TABLE "{schema}"."{row["relname"]}" OWNER TO "{owner}"')


async def _literal(conn: asyncpg.Connection, value: str) -> str:
    literal: str = await conn.fetchval("SELECT quote_literal($1)", value)
    return literal


async def _reload(*, port: int, superuser_password: str) -> None:
    conn = await asyncpg.connect(
        host="127.0.0.1", port=port, user=SUPERUSER, password=superuser_password, database=DATABASE
    )
    try:
        await conn.fetchval("SELECT pg_reload_conf()")
    finally:
        await conn.close()
