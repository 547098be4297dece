"""The embedded PostgreSQL's roles, against a real cluster made as an earlier `deisctl` made it
(trust authentication, the services' tables owned by the superuser)."""

import asyncio
from collections.abc import Iterator

import asyncpg
import pytest

from deis_testing.postgres import PostgresServer
from deisctl import provisioning
from deisctl.errors import CtlError

PASSWORDS = {"controller": "controller-pw", "builder": "builder-pw"}


@pytest.fixture
def old_cluster() -> Iterator[PostgresServer]:
    """A trust cluster holding the controller's data as the superuser's tables."""
    server = PostgresServer()
    server.start()

    async def fill() -> None:
        conn = await asyncpg.connect(server.dsn())
        try:
            await conn.execute("CREATE SCHEMA controller")
            await conn.execute("CREATE TABLE controller.apps (seq serial PRIMARY KEY, id text)")
            await conn.execute("INSERT INTO controller.apps (id) VALUES ('kept')")
        finally:
            await conn.close()

    try:
        asyncio.run(fill())
        yield server
    finally:
        server.stop()


def provision(server: PostgresServer, superuser_password: str = "super-pw") -> None:
    provisioning.provision(
        port=server.port,
        data=server.data_dir,
        superuser_password=superuser_password,
        passwords=PASSWORDS,
    )


def url(server: PostgresServer, service: str) -> str:
    return provisioning.dsn(
        port=server.port, user=provisioning.role(service), password=PASSWORDS[service]
    )


def test_an_old_trust_cluster_is_handed_to_the_services_roles_and_closed(old_cluster):
    provision(old_cluster)
    provision(old_cluster)  # idempotent

    async def check() -> None:
        with pytest.raises(asyncpg.InvalidPasswordError):
            await asyncpg.connect(old_cluster.dsn().replace("postgres@", "postgres:wrong@"))
        controller = await asyncpg.connect(url(old_cluster, "controller"))
        try:
            # Its data is its own now, the sequence of its serial column included.
            await controller.execute("INSERT INTO controller.apps (id) VALUES ('new')")
            ids = await controller.fetch("SELECT id FROM controller.apps ORDER BY seq")
            assert [row["id"] for row in ids] == ["kept", "new"]
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await controller.execute("CREATE SCHEMA intruder")
        finally:
            await controller.close()
        builder = await asyncpg.connect(url(old_cluster, "builder"))
        try:
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await builder.fetch("SELECT id FROM controller.apps")
            await builder.execute("CREATE TABLE builder.pushes (id text)")
        finally:
            await builder.close()

    asyncio.run(check())
    assert "trust" not in (old_cluster.data_dir / "pg_hba.conf").read_text()


def test_a_wrong_superuser_password_is_a_clear_error(old_cluster):
    provision(old_cluster)
    with pytest.raises(CtlError, match="refused the superuser password"):
        provision(old_cluster, superuser_password="not-it")
