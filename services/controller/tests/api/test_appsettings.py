"""App settings over HTTP: maintenance, routing, whitelist, autoscale, labels (api.md §2.11)."""

import json
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI


@pytest.fixture
def team_path() -> str:
    return "settings"


async def latest_kv(controller: FastAPI, *, bucket: str, key: str) -> dict[str, Any]:
    async with controller.state.context.pool.acquire() as conn:
        payload = await conn.fetchval(
            "SELECT payload FROM outbox WHERE bucket = $1 AND key = $2 ORDER BY seq DESC LIMIT 1",
            bucket,
            key,
        )
    assert payload is not None
    value: dict[str, Any] = json.loads(payload)
    return value


async def log_lines(controller: FastAPI, *, app: str) -> list[str]:
    async with controller.state.context.pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT payload FROM outbox WHERE kind = 'event' AND subject = $1 ORDER BY seq",
            f"deis.logs.{app}",
        )
    return [json.loads(row["payload"])["message"] for row in rows]


async def settings_rows(controller: FastAPI, *, app: str) -> int:
    async with controller.state.context.pool.acquire() as conn:
        count: int = await conn.fetchval(
            "SELECT count(*) FROM app_settings s JOIN apps a ON a.uuid = s.app_uuid"
            " WHERE a.id = $1",
            app,
        )
    return count


async def test_a_fresh_app_has_default_settings(client: httpx.AsyncClient, team):
    response = await client.get(team.url, headers=team.headers["alice"])
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {
        "uuid",
        "owner",
        "app",
        "maintenance",
        "routable",
        "whitelist",
        "autoscale",
        "label",
        "created",
        "updated",
    }
    assert body["owner"] == "alice" and body["app"] == team.app
    assert (body["maintenance"], body["routable"]) == (False, True)
    assert (body["whitelist"], body["autoscale"], body["label"]) == ([], {}, {})
    uuid.UUID(body["uuid"])
    assert body["created"].endswith("Z") and len(body["created"]) == 20


async def test_the_slash_is_optional(client: httpx.AsyncClient, team):
    response = await client.get(team.url.rstrip("/"), headers=team.headers["alice"])
    assert response.status_code == 200


async def test_maintenance_creates_a_new_row_and_carries_the_rest_forward(
    client: httpx.AsyncClient, team, controller: FastAPI
):
    before = (await client.get(team.url, headers=team.headers["alice"])).json()
    await client.post(team.url, json={"label": {"team": "web"}}, headers=team.headers["alice"])
    response = await client.post(team.url, json={"maintenance": True}, headers=team.headers["bob"])
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["maintenance"] is True and body["routable"] is True
    assert body["label"] == {"team": "web"}
    assert body["owner"] == "bob", "the new row belongs to the caller"
    assert body["uuid"] != before["uuid"]
    assert (await client.get(team.url, headers=team.headers["alice"])).json() == body
    assert await settings_rows(controller, app=team.app) == 3


async def test_maintenance_and_routing_reach_the_kv_values_and_the_log(
    client: httpx.AsyncClient, team, controller: FastAPI
):
    response = await client.post(
        team.url, json={"maintenance": True, "routable": False}, headers=team.headers["alice"]
    )
    assert response.status_code == 201
    desired = await latest_kv(controller, bucket="desired", key=team.app)
    routes = await latest_kv(controller, bucket="routes", key=team.app)
    assert (desired["maintenance"], desired["routable"]) == (True, False)
    assert (routes["maintenance"], routes["routable"]) == (True, False)
    assert "alice enabled maintenance mode, disabled routing" in await log_lines(
        controller, app=team.app
    )
    await client.post(team.url, json={"maintenance": False}, headers=team.headers["alice"])
    desired = await latest_kv(controller, bucket="desired", key=team.app)
    assert desired["maintenance"] is False
    assert "alice disabled maintenance mode" in await log_lines(controller, app=team.app)


@pytest.mark.parametrize(
    "body",
    [{}, {"maintenance": False}, {"routable": True}, {"maintenance": None}, {"whitelist": []}],
)
async def test_a_change_of_nothing_is_a_conflict(
    client: httpx.AsyncClient, team, controller: FastAPI, body: dict[str, Any]
):
    response = await client.post(team.url, json=body, headers=team.headers["bob"])
    assert response.status_code == 409
    assert response.json() == {"detail": "bob changed nothing"}
    assert await settings_rows(controller, app=team.app) == 1


@pytest.mark.parametrize("value", ["maybe", 2, [], {"a": 1}])
async def test_a_non_boolean_is_a_field_error(client: httpx.AsyncClient, team, value: Any):
    for field in ("maintenance", "routable"):
        response = await client.post(team.url, json={field: value}, headers=team.headers["alice"])
        assert response.status_code == 400
        assert response.json() == {field: ["Must be a valid boolean."]}


async def test_a_form_body_sends_booleans_and_maps_as_strings(client: httpx.AsyncClient, team):
    response = await client.post(
        team.url,
        data={
            "maintenance": "true",
            "label": '{"team": "api"}',
            "autoscale": '{"web": {"min": 1, "max": 2, "cpu_percent": 40}}',
        },
        headers={**team.headers["alice"], "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["maintenance"] is True
    assert body["label"] == {"team": "api"}
    assert body["autoscale"] == {"web": {"min": 1, "max": 2, "cpu_percent": 40}}


async def test_autoscale_is_set_changed_and_unset(
    client: httpx.AsyncClient, team, controller: FastAPI
):
    web = {"min": 1, "max": 3, "cpu_percent": 50}
    response = await client.post(
        team.url, json={"autoscale": {"web": web}}, headers=team.headers["alice"]
    )
    assert response.status_code == 201
    assert response.json()["autoscale"] == {"web": web}
    desired = await latest_kv(controller, bucket="desired", key=team.app)
    assert desired["autoscale"] == {"web": web}

    worker = {"min": 0, "max": 2, "cpu_percent": 80}
    response = await client.post(
        team.url, json={"autoscale": {"worker": worker}}, headers=team.headers["alice"]
    )
    assert response.json()["autoscale"] == {"web": web, "worker": worker}

    response = await client.post(
        team.url, json={"autoscale": {"web": None}}, headers=team.headers["alice"]
    )
    assert response.json()["autoscale"] == {"worker": worker}
    desired = await latest_kv(controller, bucket="desired", key=team.app)
    assert desired["autoscale"] == {"worker": worker}
    lines = await log_lines(controller, app=team.app)
    assert "alice added autoscale for process type web" in lines
    assert "alice deleted autoscale for process type web" in lines


async def test_unsetting_a_missing_autoscale_or_label_key_is_unprocessable(
    client: httpx.AsyncClient, team
):
    for field in ("autoscale", "label"):
        response = await client.post(
            team.url, json={field: {"web": None}}, headers=team.headers["alice"]
        )
        assert response.status_code == 422
        assert response.json() == {"detail": f"web does not exist under {field}"}


@pytest.mark.parametrize(
    "entry",
    [
        {"min": 1, "max": 3},
        {"max": 3, "cpu_percent": 50},
        {"min": "1", "max": 3, "cpu_percent": 50},
        {"min": 1.5, "max": 3, "cpu_percent": 50},
        {"min": True, "max": 3, "cpu_percent": 50},
        {"min": 1, "max": 3, "cpu_percent": 500},
        {"min": 4, "max": 3, "cpu_percent": 50},
        5,
    ],
)
async def test_autoscale_needs_three_integers(client: httpx.AsyncClient, team, entry: Any):
    response = await client.post(
        team.url, json={"autoscale": {"web": entry}}, headers=team.headers["alice"]
    )
    assert response.status_code == 400
    (message,) = response.json()["autoscale"]
    assert message.startswith(f"could not validate {entry!r}: ")


async def test_autoscale_of_a_bad_process_type_is_refused(client: httpx.AsyncClient, team):
    entry = {"min": 1, "max": 3, "cpu_percent": 50}
    response = await client.post(
        team.url, json={"autoscale": {"Web_1": entry}}, headers=team.headers["alice"]
    )
    assert response.status_code == 400
    assert list(response.json()) == ["autoscale"]


@pytest.mark.parametrize("value", ["not json", "[1, 2]", 3, [1]])
async def test_maps_must_be_objects(client: httpx.AsyncClient, team, value: Any):
    for field in ("autoscale", "label"):
        response = await client.post(team.url, json={field: value}, headers=team.headers["alice"])
        assert response.status_code == 400
        assert list(response.json()) == [field]


async def test_labels_are_set_changed_and_unset(
    client: httpx.AsyncClient, team, controller: FastAPI
):
    response = await client.post(
        team.url, json={"label": {"team": "web", "tier": "1"}}, headers=team.headers["alice"]
    )
    assert response.json()["label"] == {"team": "web", "tier": "1"}
    response = await client.post(
        team.url, json={"label": {"team": "api", "tier": None}}, headers=team.headers["alice"]
    )
    assert response.status_code == 201
    assert response.json()["label"] == {"team": "api"}
    assert "alice changed label team, deleted label tier" in await log_lines(
        controller, app=team.app
    )
    same = await client.post(team.url, json={"label": {"team": "api"}}, headers=team.headers["bob"])
    assert same.status_code == 409


async def test_the_whitelist_is_replaced_through_settings(
    client: httpx.AsyncClient, team, controller: FastAPI
):
    response = await client.post(
        team.url, json={"whitelist": ["1.2.3.4", "10.0.0.0/8"]}, headers=team.headers["alice"]
    )
    assert response.status_code == 201
    assert response.json()["whitelist"] == ["1.2.3.4", "10.0.0.0/8"]
    reordered = await client.post(
        team.url, json={"whitelist": ["10.0.0.0/8", "1.2.3.4"]}, headers=team.headers["alice"]
    )
    assert reordered.status_code == 409
    response = await client.post(
        team.url, json={"whitelist": ["10.0.0.0/8"]}, headers=team.headers["alice"]
    )
    assert response.json()["whitelist"] == ["10.0.0.0/8"]
    routes = await latest_kv(controller, bucket="routes", key=team.app)
    assert routes["whitelist"] == ["10.0.0.0/8"]
    assert "alice removed 1.2.3.4 from the whitelist" in await log_lines(controller, app=team.app)


async def test_an_invalid_whitelist_address_is_a_bare_list(client: httpx.AsyncClient, team):
    response = await client.post(
        team.url, json={"whitelist": ["1.2.3.4", "nope"]}, headers=team.headers["alice"]
    )
    assert response.status_code == 400
    assert response.json() == ["The address nope is not valid"]


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
async def test_who_may_read_and_change_settings(
    client: httpx.AsyncClient, team, who: str | None, read: int, write: int
):
    headers = team.headers[who] if who else {}
    assert (await client.get(team.url, headers=headers)).status_code == read
    response = await client.post(team.url, json={"maintenance": True}, headers=headers)
    assert response.status_code == write
    if write == 201:
        assert response.json()["owner"] == who


async def test_an_unknown_app_is_not_found(client: httpx.AsyncClient, team):
    response = await client.get("/v2/apps/no-such-app/settings/", headers=team.headers["alice"])
    assert response.status_code == 404
    assert response.json() == "No App matches the given query."
