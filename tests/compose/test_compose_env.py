"""`deisctl compose-env`: the credentials in `.env`, nats-server's and PostgreSQL's configuration.

The configurations are tried on real servers: nats-server takes the passwords from its
environment as the nats container does, and psql runs the first-start script as the postgres
container's entrypoint does.
"""

import asyncio
import json
import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import nats
import nats.js.errors
import pytest

from deis_shared import binaries
from deis_shared.bus import permissions
from deis_testing.ports import free_port, wait_for_port
from deis_testing.postgres import PostgresServer, postgres_bindir
from deisctl import composing, provisioning
from deisctl.errors import CtlError

DEISCTL = [sys.executable, "-m", "deisctl.main"]


def read_env(path: Path) -> dict[str, str]:
    lines = [line for line in path.read_text().splitlines() if line and not line.startswith("#")]
    return dict(line.split("=", 1) for line in lines)


def test_the_first_run_makes_a_private_env_of_distinct_random_secrets(tmp_path):
    written = composing.write(tmp_path)
    assert (written.created, written.added) == (True, [])
    env = read_env(tmp_path / ".env")
    assert list(env) == composing.secret_names()
    assert len(set(env.values())) == len(env)
    for value in env.values():
        assert re.fullmatch(
            r"[A-Za-z][A-Za-z0-9_-]{43}", value
        )  # a letter, then 32 random bytes, URL-safe
    assert (tmp_path / ".env").stat().st_mode & 0o777 == 0o600
    other = tmp_path / "other"
    other.mkdir()
    composing.write(other)
    assert not set(read_env(other / ".env").values()) & set(env.values())


def test_the_env_has_a_password_per_role_and_nats_user_and_the_s3_keys():
    names = composing.secret_names()
    assert composing.SUPERUSER_PASSWORD in names
    for service in provisioning.SERVICE_SCHEMAS:
        assert composing.database_password(service) in names
    for user in permissions.BY_SERVICE:
        assert composing.nats_password(user) in names
    assert {composing.S3_ACCESS_KEY, composing.S3_SECRET_KEY} <= set(names)
    assert len(names) == len(set(names))


def test_a_second_run_keeps_the_env(tmp_path):
    composing.write(tmp_path)
    before = (tmp_path / ".env").read_bytes()
    written = composing.write(tmp_path)
    assert (written.created, written.added) == (False, [])
    assert (tmp_path / ".env").read_bytes() == before


def test_a_second_run_adds_only_what_the_env_lacks(tmp_path):
    kept = "# mine\nPG_SUPERUSER_PASSWORD='kept-superuser'\nNATS_ROUTER_PASSWORD=kept-router"
    env = tmp_path / ".env"
    env.write_text(kept)
    env.chmod(0o600)
    written = composing.write(tmp_path)
    assert written.created is False
    assert composing.SUPERUSER_PASSWORD not in written.added
    assert set(written.added) == set(composing.secret_names()) - {
        composing.SUPERUSER_PASSWORD,
        composing.nats_password("router"),
    }
    assert env.read_text().startswith(kept + "\n")
    assert read_env(env)["NATS_ROUTER_PASSWORD"] == "kept-router"


def test_an_env_others_may_read_is_refused(tmp_path):
    env = tmp_path / ".env"
    env.write_text("PG_SUPERUSER_PASSWORD=x\n")
    env.chmod(0o644)
    with pytest.raises(CtlError, match="chmod 600"):
        composing.write(tmp_path)


def test_the_command_says_what_it_wrote(tmp_path):
    first = subprocess.run(
        [*DEISCTL, "compose-env", "--dir", str(tmp_path)], capture_output=True, text=True
    )
    assert first.returncode == 0, first.stderr
    assert "new credentials" in first.stdout
    second = subprocess.run(
        [*DEISCTL, "compose-env", "--dir", str(tmp_path)], capture_output=True, text=True
    )
    assert second.returncode == 0, second.stderr
    assert f"kept {tmp_path / '.env'}" in second.stdout


def test_no_secret_is_written_outside_the_env(tmp_path):
    written = composing.write(tmp_path)
    secrets = read_env(written.env).values()
    for path in (written.nats_config, written.initdb_script):
        text = path.read_text()
        assert not [secret for secret in secrets if secret in text], path
        assert path.stat().st_mode & 0o777 == 0o644  # the containers' users read them


def nats_users(text: str) -> dict[str, tuple[str, dict[str, object]]]:
    """user -> (its password as written, its permissions), from the authorization block."""
    found = {}
    for line in text.splitlines():
        matched = re.fullmatch(r'\s*(\{"user": .*\}),?', line)
        if matched:
            quoted = re.sub(r'"password": (\$\w+)', r'"password": "\1"', matched[1])
            entry = json.loads(quoted)
            found[entry["user"]] = (entry["password"], entry["permissions"])
    return found


def test_the_nats_config_has_a_user_per_service_with_its_permissions(tmp_path):
    text = composing.write(tmp_path).nats_config.read_text()
    users = nats_users(text)
    assert set(users) == set(permissions.BY_SERVICE)
    for user, (password, allowed) in users.items():
        assert password == f"${composing.nats_password(user)}"
        assert allowed == permissions.BY_SERVICE[user].server_config()
    assert "jetstream: enabled" in text
    assert "store_dir" not in text  # the image's entrypoint gives it: a second one is refused
    assert 'listen: "0.0.0.0:4222"' in text


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """nats-server with compose-env's configuration and `.env`'s passwords in its environment,
    started as the nats image's entrypoint starts it (on free ports, the store in `tmp_path`)."""
    written = composing.write(tmp_path)
    env = read_env(written.env)
    port, monitor = free_port(), free_port()
    config = tmp_path / "nats.conf"
    config.write_text(written.nats_config.read_text().replace("0.0.0.0:4222", f"127.0.0.1:{port}"))
    command = [
        binaries.nats_server(), "--config", str(config),
        "--jetstream", "--store_dir", str(tmp_path / "store"), "--http_port", str(monitor),
    ]  # fmt: skip
    log = (tmp_path / "nats.log").open("wb")
    with log:
        process = subprocess.Popen(
            command, env={"PATH": os.defpath, **env}, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        wait_for_port(port, timeout=10)
        # The monitor answers on the loopback only, where the image's health check asks.
        health = httpx.get(f"http://127.0.0.1:{monitor}/healthz?js-enabled-only=true", timeout=5)
        assert health.status_code == 200
        yield port, env
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.mark.integration
def test_nats_server_lets_each_service_in_with_its_password_only(nats_server):
    port, env = nats_server

    async def check() -> None:
        for user in permissions.BY_SERVICE:
            password = env[composing.nats_password(user)]
            client = await nats.connect(f"nats://{user}:{password}@127.0.0.1:{port}")
            try:
                # Allowed to every service (each makes the topology at start); JetStream answers.
                with pytest.raises(nats.js.errors.NotFoundError):
                    await client.jetstream().stream_info("EVENTS")
            finally:
                await client.close()

    asyncio.run(check())
    # Another service's password is refused (a bare handshake: a client refused leaves nothing).
    stranger = env[composing.nats_password("router")]
    assert handshake(port, user="controller", password=stranger).startswith("-ERR 'Authorization")
    assert handshake(port, user="router", password=stranger) == "PONG"


def handshake(port: int, *, user: str, password: str) -> str:
    """The server's answer to a client's CONNECT with `user` and `password`, then PING."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        reader = sock.makefile("rb")
        assert reader.readline().startswith(b"INFO ")
        connect = {"user": user, "pass": password, "verbose": False, "pedantic": False}
        sock.sendall(b"CONNECT " + json.dumps(connect).encode() + b"\r\nPING\r\n")
        return reader.readline().decode().strip()


@pytest.fixture
def cluster() -> Iterator[PostgresServer]:
    """A cluster of this test's own: the script makes roles, which are the cluster's."""
    server = PostgresServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def run_initdb(
    server: PostgresServer, script: Path, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """The script as the postgres image's entrypoint runs it: psql, the container's environment."""
    psql = [
        str(postgres_bindir() / "psql"),
        "--no-psqlrc", "--no-password", "--set", "ON_ERROR_STOP=1",
        "--host", "127.0.0.1", "--port", str(server.port),
        "--username", "postgres", "--dbname", "postgres",
        "--file", str(script),
    ]  # fmt: skip
    return subprocess.run(
        psql, env={"PATH": os.defpath, **env}, capture_output=True, text=True, timeout=60
    )


@pytest.mark.integration
def test_the_first_start_script_makes_each_services_role_and_schema(tmp_path, cluster):
    written = composing.write(tmp_path)
    env = read_env(written.env)
    done = run_initdb(cluster, written.initdb_script, env)
    assert done.returncode == 0, done.stderr

    async def check() -> None:
        conn = await asyncpg.connect(cluster.dsn())
        try:
            for service, schema in provisioning.SERVICE_SCHEMAS.items():
                role = provisioning.role(service)
                row = await conn.fetchrow(
                    "SELECT rolcanlogin, rolsuper, rolcreatedb, rolcreaterole, rolpassword"
                    " FROM pg_authid WHERE rolname = $1",
                    role,
                )
                assert row is not None, role
                assert row["rolcanlogin"] and not row["rolsuper"]
                assert not row["rolcreatedb"] and not row["rolcreaterole"]
                assert row["rolpassword"].startswith("SCRAM-SHA-256$"), role
                owner = await conn.fetchval(
                    "SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = $1",
                    schema,
                )
                assert owner == role
                public = await conn.fetchval(
                    "SELECT has_schema_privilege($1, 'public', 'CREATE')", role
                )
                assert public is False
        finally:
            await conn.close()

    asyncio.run(check())


@pytest.mark.integration
def test_the_first_start_script_stops_without_the_passwords(tmp_path, cluster):
    written = composing.write(tmp_path)
    done = run_initdb(cluster, written.initdb_script, {})
    assert done.returncode != 0
    assert "PG_CONTROLLER_PASSWORD is not set (deisctl compose-env)" in done.stderr

    async def roles() -> int:
        conn = await asyncpg.connect(cluster.dsn())
        try:
            count: int = await conn.fetchval(
                "SELECT count(*) FROM pg_roles WHERE rolname LIKE 'deis\\_%'"
            )
            return count
        finally:
            await conn.close()

    assert asyncio.run(roles()) == 0
