"""Fixtures: a real controller (its FastAPI app with its lifespan) on a fresh database and the
session's nats-server, and an HTTP client talking to it in process."""

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import nats
import nats.aio.client
import pytest
from fastapi import FastAPI

from deis_controller.service import build_app
from deis_controller.settings import ControllerSettings
from deis_shared import wire
from deis_shared.kv.desired import DesiredState
from deis_testing import NatsServer, ServiceProcess, free_port

Register = Callable[..., Awaitable[str]]


def make_settings(*, dsn: str, nats_url: str, **overrides: Any) -> ControllerSettings:
    """Settings for a controller under test: cheap password hashing, no health server."""
    values: dict[str, Any] = {
        "database_url": dsn,
        "nats_url": nats_url,
        "password_time_cost": 1,
        "password_memory_cost": 8,
        "db_pool_max_size": 5,
        "shutdown_timeout": 5.0,
        "builder_key": "builder-secret",
        "rollout_wait": 0.0,  # no scheduler here: requests answer without waiting
    }
    values.update(overrides)
    return ControllerSettings(**values)


@pytest.fixture
def controller_overrides() -> dict[str, Any]:
    """Settings a test module overrides (override this fixture)."""
    return {}


@pytest.fixture
def controller_settings(
    pg_dsn: str, nats_server: NatsServer, controller_overrides: dict[str, Any]
) -> ControllerSettings:
    """The controller's settings for this test."""
    return make_settings(dsn=pg_dsn, nats_url=nats_server.url, **controller_overrides)


@pytest.fixture
async def controller(controller_settings: ControllerSettings) -> AsyncIterator[FastAPI]:
    """A running controller: migrations applied, NATS connected, workers started."""
    app = build_app(controller_settings)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def client(controller: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client for the controller, sending JSON as the SDK does."""
    transport = httpx.ASGITransport(app=controller)
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://deis.testserver",
        headers={"Content-Type": "application/json", "User-Agent": "Deis Client v2.18.0"},
    ) as http:
        yield http


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"token {token}"}


@pytest.fixture
def auth() -> Callable[[str], dict[str, str]]:
    """Headers authenticating as the holder of a token: `auth(token)`."""
    return _auth


@pytest.fixture
def register(client: httpx.AsyncClient) -> Register:
    """Register a user (the first becomes admin) and log in; their token."""

    async def make(username: str, password: str = "s3cret-pw", **extra: Any) -> str:
        body = {"username": username, "password": password, **extra}
        created = await client.post("/v2/auth/register/", json=body)
        assert created.status_code == 201, created.text
        login = await client.post(
            "/v2/auth/login/", json={"username": username, "password": password}
        )
        assert login.status_code == 200, login.text
        token: str = login.json()["token"]
        return token

    return make


@pytest.fixture
def start_controller_process(
    pg_dsn: str, nats_server: NatsServer, tmp_path: Any
) -> Iterator[Callable[..., Awaitable[ServiceProcess]]]:
    """Start the controller as a real process (`python -m deis_controller.main`)."""
    started: list[ServiceProcess] = []

    async def start(**env: str) -> ServiceProcess:
        port = free_port()
        environment = {
            **os.environ,
            "DEIS_DATABASE_URL": pg_dsn,
            "DEIS_NATS_URL": nats_server.url,
            "DEIS_API_PORT": str(port),
            "DEIS_PASSWORD_TIME_COST": "1",
            "DEIS_PASSWORD_MEMORY_COST": "8",
            "DEIS_SHUTDOWN_TIMEOUT": "10",
            **env,
        }
        controller = ServiceProcess(
            "deis_controller.main",
            env=environment,
            port=port,
            log=tmp_path / f"controller-{port}.log",
        )
        started.append(controller)
        await asyncio.to_thread(controller.start)
        return controller

    yield start
    for controller in started:
        controller.kill()


@dataclass
class Team:
    """An app owned by alice, shared with bob; eve is a stranger and root the admin."""

    app: str
    headers: dict[str, dict[str, str]]
    path: str

    @property
    def url(self) -> str:
        """The app's URL under test, `/v2/apps/<app>/<path>/`."""
        return f"/v2/apps/{self.app}/{self.path}/"


@pytest.fixture
def team_path() -> str:
    """The app sub-resource a module tests through `team.url` (override per module)."""
    return "settings"


@pytest.fixture
async def team(
    client: httpx.AsyncClient,
    register: Register,
    auth: Callable[[str], dict[str, str]],
    controller: FastAPI,
    team_path: str,
    unique: str,
) -> Team:
    """Four users and an app: alice owns it, bob collaborates, eve is a stranger, root admin."""
    tokens = {name: await register(name) for name in ("root", "alice", "bob", "eve")}
    app = f"team-{unique}".replace("_", "-").lower()[:40]
    created = await client.post("/v2/apps/", json={"id": app}, headers=auth(tokens["alice"]))
    assert created.status_code == 201, created.text
    granted = await client.post(
        f"/v2/apps/{app}/perms/", json={"username": "bob"}, headers=auth(tokens["alice"])
    )
    assert granted.status_code == 201, granted.text
    return Team(
        app=app, headers={name: auth(token) for name, token in tokens.items()}, path=team_path
    )


@pytest.fixture
async def nc(nats_server: NatsServer) -> AsyncIterator[nats.aio.client.Client]:
    """A NATS client for the test, playing the builder, the scheduler or the logger."""
    client = await nats.connect(nats_server.url)
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
async def owner(register: Register) -> str:
    """The token of the app's owner, `autotest` as in upstream's tests (first user: an admin)."""
    return await register("autotest")


@pytest.fixture
async def app_id(
    client: httpx.AsyncClient, auth: Callable[[str], dict[str, str]], owner: str, unique: str
) -> str:
    """An app of `owner`'s with a name no other test uses."""
    name = f"app-{unique}".replace("_", "-").lower()[:40]
    created = await client.post("/v2/apps/", json={"id": name}, headers=auth(owner))
    assert created.status_code == 201, created.text
    return name


@pytest.fixture
def desired(controller: FastAPI) -> Callable[[str], Awaitable[DesiredState]]:
    """`await desired(app)`: the app's latest desired state, as its last outbox row holds it."""

    async def latest(app_id: str) -> DesiredState:
        async with controller.state.context.pool.acquire() as conn:
            payload = await conn.fetchval(
                "SELECT payload FROM outbox WHERE kind = 'kv_put' AND bucket = 'desired'"
                " AND key = $1 ORDER BY seq DESC LIMIT 1",
                app_id,
            )
        return wire.decode(payload, DesiredState)

    return latest
