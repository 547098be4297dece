"""End to end: the embedded PostgreSQL and NATS take only the platform's credentials.

`deisctl up` makes the cluster with SCRAM authentication and a role per service that keeps
state (`deisctl.provisioning`), and runs nats-server with a user per service, each
allowed only its service's subjects (`deis_shared.bus.permissions`); the passwords are in the
data dir's secrets.
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


def without_credentials(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"{parts.hostname}:{parts.port}"))


@pytest.mark.parametrize("credentials", ["wrong", "missing"])
def test_a_service_with_a_wrong_or_missing_nats_password_stops_with_a_clear_message(
    platform, tmp_path, credentials
):
    env = {
        **service_env(platform.data_dir, "logger"),
        "DEIS_HEALTH_PORT": "0",
        "DEIS_DATA_DIR": str(tmp_path),
    }
    password = urlsplit(env["DEIS_NATS_URL"]).password
    assert password
    if credentials == "wrong":
        env["DEIS_NATS_URL"] = with_password(env["DEIS_NATS_URL"], "wrong")
        refused = "the server refused user 'logger' (Authorization Violation)"
    else:
        env["DEIS_NATS_URL"] = without_credentials(env["DEIS_NATS_URL"])
        refused = "the server refused a client without a user (Authorization Violation)"
    done = subprocess.run(
        [sys.executable, "-m", "deis_logger.main"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert refused in done.stderr
    assert "wrong or missing password" in done.stderr
    assert password not in done.stderr


def test_on_the_platform_a_service_may_not_use_another_services_subjects(platform):
    # What each service may do is checked in cli/deisctl/tests/test_nats_permissions.py; here, that
    # the server deisctl runs enforces it.
    url = service_env(platform.data_dir, "scheduler")["DEIS_NATS_URL"]

    async def check() -> None:
        refusals: list[str] = []
        arrived = asyncio.Event()

        async def on_error(exc: Exception) -> None:
            refusals.append(str(exc).lower())
            arrived.set()

        client = await nats.connect(url, error_cb=on_error, allow_reconnect=False)
        try:
            await client.subscribe("deis.rpc.controller.key")
            await client.publish("$KV.desired.victim", b"{}")
            async with asyncio.timeout(10):
                while len(refusals) < 2:
                    arrived.clear()
                    await arrived.wait()
        finally:
            await client.close()
        assert any('subscription to "deis.rpc.controller.key"' in r for r in refusals)
        assert any('publish to "$kv.desired.victim"' in r for r in refusals)

    asyncio.run(check())
