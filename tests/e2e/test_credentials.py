"""End to end: the embedded PostgreSQL and NATS take only the platform's credentials.

`deisctl up` makes the cluster with SCRAM authentication and a role per service that keeps
state (`deis_cli.ctl.provisioning`), and runs nats-server with a user per service; the
passwords are in the data dir's secrets.
"""

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import nats.aio.client
import nats.errors
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


def service_env(data_dir: Path, service: str) -> dict[str, str]:
    """The environment `deisctl` started `service` with."""
    state = json.loads((data_dir / "run" / "state.json").read_text())
    pid = state["processes"][service]
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


def with_password(url: str, password: str) -> str:
    parts = urlsplit(url)
    netloc = f"{parts.username}:{password}@{parts.hostname}:{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def test_each_service_reaches_only_its_own_schema_and_nobody_gets_in_without_a_password(
    platform,
):
    controller = service_env(platform.data_dir, "controller")["DEIS_DATABASE_URL"]
    builder = service_env(platform.data_dir, "builder")["DEIS_DATABASE_URL"]
    port = urlsplit(controller).port

    async def check() -> None:
        conn = await asyncpg.connect(controller)
        try:
            assert await conn.fetchval("SELECT count(*) FROM controller.apps") >= 0
            for statement in (
                "SELECT count(*) FROM builder.pushes",
                "CREATE TABLE builder.intruder (a int)",
                "CREATE SCHEMA intruder",
                "CREATE TABLE public.intruder (a int)",
                "CREATE ROLE intruder",
            ):
                with pytest.raises(asyncpg.InsufficientPrivilegeError):
                    await conn.execute(statement)
        finally:
            await conn.close()
        conn = await asyncpg.connect(builder)
        try:
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.fetchval("SELECT count(*) FROM controller.users")
        finally:
            await conn.close()
        for url in (
            with_password(controller, "wrong"),
            f"postgresql://postgres:wrong@127.0.0.1:{port}/postgres",
        ):
            with pytest.raises(asyncpg.InvalidPasswordError):
                await asyncpg.connect(url)

    asyncio.run(check())


def test_a_service_with_a_wrong_password_stops_with_a_clear_message(platform, tmp_path):
    env = {
        **service_env(platform.data_dir, "controller"),
        "DEIS_API_PORT": "0",
        "DEIS_HEALTH_PORT": "0",
        "DEIS_DATA_DIR": str(tmp_path),
    }
    env["DEIS_DATABASE_URL"] = with_password(env["DEIS_DATABASE_URL"], "wrong")
    done = subprocess.run(
        [sys.executable, "-m", "deis_controller.main"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert 'password authentication failed for user "deis_controller"' in done.stderr


def test_nats_takes_only_the_services_users(platform):
    url = urlsplit(service_env(platform.data_dir, "logger")["DEIS_NATS_URL"])
    assert url.username == "logger"
    anonymous = f"nats://127.0.0.1:{url.port}"

    async def check() -> None:
        for refused in (anonymous, f"nats://logger:wrong@127.0.0.1:{url.port}"):
            client = nats.aio.client.Client()
            try:
                with pytest.raises(nats.errors.Error, match="Authorization Violation"):
                    await client.connect(refused, allow_reconnect=False, connect_timeout=2)
            finally:
                await client.close()
        allowed = await nats.connect(url.geturl(), allow_reconnect=False, connect_timeout=2)
        await allowed.close()

    asyncio.run(check())
