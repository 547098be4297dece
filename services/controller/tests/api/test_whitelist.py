"""The whitelist over HTTP: list, add, remove addresses (docs/api.md §2.11)."""

import json
from typing import Any

import httpx
import pytest
from fastapi import FastAPI


@pytest.fixture
def team_path() -> str:
    return "whitelist"


async def latest_routes(controller: FastAPI, *, app: str) -> dict[str, Any]:
    async with controller.state.context.pool.acquire() as conn:
        payload = await conn.fetchval(
            "SELECT payload FROM outbox WHERE bucket = 'routes' AND key = $1"
            " ORDER BY seq DESC LIMIT 1",
            app,
        )
    value: dict[str, Any] = json.loads(payload)
    return value


async def settings_owners(controller: FastAPI, *, app: str) -> list[str]:
    async with controller.state.context.pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT u.username FROM app_settings s JOIN apps a ON a.uuid = s.app_uuid"
            " JOIN users u ON u.id = s.owner_id WHERE a.id = $1 ORDER BY s.seq",
            app,
        )
    return [row["username"] for row in rows]


async def delete(
    client: httpx.AsyncClient, url: str, *, headers: dict[str, str], body: Any
) -> httpx.Response:
    return await client.request("DELETE", url, json=body, headers=headers)


async def test_a_fresh_app_allows_everyone(client: httpx.AsyncClient, team):
    response = await client.get(team.url, headers=team.headers["alice"])
    assert response.status_code == 200
    assert response.json() == {"addresses": []}


async def test_adding_answers_the_union_and_appends_settings(
    client: httpx.AsyncClient, team, controller: FastAPI
):
    first = await client.post(
        team.url, json={"addresses": ["1.2.3.4", "10.0.0.0/8"]}, headers=team.headers["alice"]
    )
    assert first.status_code == 201
    assert first.json() == {"addresses": ["1.2.3.4", "10.0.0.0/8"]}
    second = await client.post(
        team.url, json={"addresses": ["10.0.0.0/8", "::1"]}, headers=team.headers["bob"]
    )
    assert second.status_code == 201
    assert second.json() == {"addresses": ["1.2.3.4", "10.0.0.0/8", "::1"]}
    listed = await client.get(team.url.rstrip("/"), headers=team.headers["bob"])
    assert listed.json() == second.json()
    assert await settings_owners(controller, app=team.app) == ["alice", "alice", "bob"]
    assert (await latest_routes(controller, app=team.app))["whitelist"] == [
        "1.2.3.4",
        "10.0.0.0/8",
        "::1",
    ]
    settings = await client.get(f"/v2/apps/{team.app}/settings/", headers=team.headers["bob"])
    assert settings.json()["whitelist"] == ["1.2.3.4", "10.0.0.0/8", "::1"]


async def test_adding_nothing_new_is_a_conflict(
    client: httpx.AsyncClient, team, controller: FastAPI
):
    await client.post(team.url, json={"addresses": ["1.2.3.4"]}, headers=team.headers["alice"])
    bodies: list[dict[str, list[str]]] = [{"addresses": ["1.2.3.4"]}, {"addresses": []}]
    for body in bodies:
        response = await client.post(team.url, json=body, headers=team.headers["bob"])
        assert response.status_code == 409
        assert response.json() == {"detail": "bob changed nothing"}
    assert len(await settings_owners(controller, app=team.app)) == 2


@pytest.mark.parametrize(
    ("addresses", "expected"),
    [
        (["1.2.3.4", "nope"], ["The address nope is not valid"]),
        (
            ["1.2.3.400", "fe80::1%eth0"],
            [
                "The address 1.2.3.400 is not valid",
                "The address fe80::1%eth0 is not valid",
            ],
        ),
    ],
)
async def test_an_invalid_address_is_a_bare_list(
    client: httpx.AsyncClient, team, addresses: list[str], expected: list[str]
):
    response = await client.post(
        team.url, json={"addresses": addresses}, headers=team.headers["alice"]
    )
    assert response.status_code == 400
    assert response.json() == expected
    assert (await client.get(team.url, headers=team.headers["alice"])).json() == {"addresses": []}


@pytest.mark.parametrize("body", [{}, {"addresses": "1.2.3.4"}])
async def test_addresses_must_be_a_list(client: httpx.AsyncClient, team, body: Any):
    response = await client.post(team.url, json=body, headers=team.headers["alice"])
    assert response.status_code == 400
    assert list(response.json()) == ["addresses"]


async def test_removing_addresses(client: httpx.AsyncClient, team, controller: FastAPI):
    await client.post(
        team.url, json={"addresses": ["1.2.3.4", "5.6.7.8"]}, headers=team.headers["alice"]
    )
    response = await delete(
        client, team.url, headers=team.headers["alice"], body={"addresses": ["1.2.3.4"]}
    )
    assert response.status_code == 204
    assert response.content == b""
    listed = await client.get(team.url, headers=team.headers["alice"])
    assert listed.json() == {"addresses": ["5.6.7.8"]}
    assert (await latest_routes(controller, app=team.app))["whitelist"] == ["5.6.7.8"]


async def test_removing_an_absent_address_is_unprocessable(
    client: httpx.AsyncClient, team, controller: FastAPI
):
    await client.post(team.url, json={"addresses": ["5.6.7.8"]}, headers=team.headers["alice"])
    response = await delete(
        client, team.url, headers=team.headers["alice"], body={"addresses": ["1.2.3.4", "5.6.7.8"]}
    )
    assert response.status_code == 422
    assert response.json() == {"detail": "addresses {'1.2.3.4'} does not exist in whitelist"}
    two = await delete(
        client, team.url, headers=team.headers["alice"], body={"addresses": ["9.9.9.9", "1.1.1.1"]}
    )
    assert two.json() == {"detail": "addresses {'1.1.1.1', '9.9.9.9'} does not exist in whitelist"}
    assert (await client.get(team.url, headers=team.headers["alice"])).json() == {
        "addresses": ["5.6.7.8"]
    }


async def test_removing_an_invalid_address_is_a_bare_list(client: httpx.AsyncClient, team):
    response = await delete(
        client, team.url, headers=team.headers["alice"], body={"addresses": ["x"]}
    )
    assert response.status_code == 400
    assert response.json() == ["The address x is not valid"]


@pytest.mark.parametrize(
    ("who", "read", "add", "remove"),
    [
        (None, 401, 401, 401),
        ("eve", 403, 403, 403),
        ("bob", 200, 201, 403),
        ("alice", 200, 201, 204),
        ("root", 200, 201, 204),
    ],
)
async def test_who_may_read_add_and_remove(
    client: httpx.AsyncClient, team, who: str | None, read: int, add: int, remove: int
):
    headers = team.headers[who] if who else {}
    await client.post(team.url, json={"addresses": ["1.2.3.4"]}, headers=team.headers["alice"])
    assert (await client.get(team.url, headers=headers)).status_code == read
    added = await client.post(team.url, json={"addresses": ["5.6.7.8"]}, headers=headers)
    assert added.status_code == add
    removed = await delete(client, team.url, headers=headers, body={"addresses": ["1.2.3.4"]})
    assert removed.status_code == remove
    remaining = (await client.get(team.url, headers=team.headers["alice"])).json()["addresses"]
    assert ("1.2.3.4" in remaining) == (remove != 204)
