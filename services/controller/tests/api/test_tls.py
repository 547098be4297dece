"""TLS (HTTPS enforcement) over HTTP (docs/api.md §2.11)."""

import json
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI


@pytest.fixture
def team_path() -> str:
    return "tls"


async def latest_routes(controller: FastAPI, *, app: str) -> dict[str, Any]:
    async with controller.state.context.pool.acquire() as conn:
        payload = await conn.fetchval(
            "SELECT payload FROM outbox WHERE bucket = 'routes' AND key = $1"
            " ORDER BY seq DESC LIMIT 1",
            app,
        )
    value: dict[str, Any] = json.loads(payload)
    return value


async def tls_rows(controller: FastAPI, *, app: str) -> int:
    async with controller.state.context.pool.acquire() as conn:
        count: int = await conn.fetchval(
            "SELECT count(*) FROM tls t JOIN apps a ON a.uuid = t.app_uuid WHERE a.id = $1", app
        )
    return count


async def test_a_fresh_app_has_never_set_https(client: httpx.AsyncClient, team):
    response = await client.get(team.url, headers=team.headers["alice"])
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {
        "uuid",
        "owner",
        "app",
        "https_enforced",
        "certs_auto_enabled",
        "certs_auto_status",
        "created",
        "updated",
    }
    assert body["https_enforced"] is None
    assert (body["certs_auto_enabled"], body["certs_auto_status"]) == (None, [])
    assert (body["owner"], body["app"]) == ("alice", team.app)
    uuid.UUID(body["uuid"])


async def test_enforcing_https_appends_a_row_and_reaches_the_router(
    client: httpx.AsyncClient, team, controller: FastAPI
):
    before = (await client.get(team.url, headers=team.headers["alice"])).json()
    response = await client.post(
        team.url.rstrip("/"), json={"https_enforced": True}, headers=team.headers["bob"]
    )
    assert response.status_code == 201
    body = response.json()
    assert body["https_enforced"] is True
    assert body["owner"] == "bob"
    assert body["uuid"] != before["uuid"]
    assert (await client.get(team.url, headers=team.headers["alice"])).json() == body
    assert (await latest_routes(controller, app=team.app))["https_enforced"] is True
    assert await tls_rows(controller, app=team.app) == 2
    async with controller.state.context.pool.acquire() as conn:
        messages = [
            json.loads(row["payload"])["message"]
            for row in await conn.fetch(
                "SELECT payload FROM outbox WHERE subject = $1", f"deis.logs.{team.app}"
            )
        ]
    assert "bob enabled HTTPS enforcement" in messages

    off = await client.post(team.url, json={"https_enforced": False}, headers=team.headers["alice"])
    assert off.status_code == 201
    assert off.json()["https_enforced"] is False
    assert (await latest_routes(controller, app=team.app))["https_enforced"] is False


async def test_disabling_a_never_set_https_is_a_change(client: httpx.AsyncClient, team):
    response = await client.post(
        team.url, json={"https_enforced": False}, headers=team.headers["alice"]
    )
    assert response.status_code == 201
    assert response.json()["https_enforced"] is False


async def test_the_same_value_again_is_a_conflict(
    client: httpx.AsyncClient, team, controller: FastAPI
):
    await client.post(team.url, json={"https_enforced": True}, headers=team.headers["alice"])
    response = await client.post(
        team.url, json={"https_enforced": True}, headers=team.headers["bob"]
    )
    assert response.status_code == 409
    assert response.json() == {"detail": "bob changed nothing"}
    assert await tls_rows(controller, app=team.app) == 2


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"https_enforced": "maybe"}, "Must be a valid boolean."),
        ({"https_enforced": 7}, "Must be a valid boolean."),
        ({"https_enforced": None}, "This field may not be null."),
        ({}, "This field is required."),
    ],
)
async def test_https_enforced_must_be_a_boolean(
    client: httpx.AsyncClient, team, body: dict[str, Any], message: str
):
    response = await client.post(team.url, json=body, headers=team.headers["alice"])
    assert response.status_code == 400
    assert response.json() == {"https_enforced": [message]}


async def test_a_form_sends_the_boolean_as_a_string(client: httpx.AsyncClient, team):
    response = await client.post(
        team.url,
        data={"https_enforced": "true"},
        headers={**team.headers["alice"], "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 201
    assert response.json()["https_enforced"] is True


@pytest.mark.parametrize(
    ("who", "read", "write"),
    [
        (None, 401, 401),
        ("eve", 403, 403),
        ("bob", 200, 201),
        ("alice", 200, 201),
        ("root", 200, 201),
    ],
)
async def test_who_may_read_and_change_tls(
    client: httpx.AsyncClient, team, who: str | None, read: int, write: int
):
    headers = team.headers[who] if who else {}
    assert (await client.get(team.url, headers=headers)).status_code == read
    response = await client.post(team.url, json={"https_enforced": True}, headers=headers)
    assert response.status_code == write
