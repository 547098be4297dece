"""Hostile requests meet a clear 4xx before anything is written, and the app goes on deploying.

Each test sends what a collaborator could send to wedge an app or exhaust the host (issue 14):
huge or deeply nested bodies, oversized config, absurd scale counts, limits no backend can
apply, a desired state larger than the bus carries, over-long `run` commands. The answer must
be a 4xx with a JSON detail, no row may change (releases, configs, apps, outbox), and a normal
config change must then be released and published as usual.
"""

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from deis_controller.api import app as api_app
from deis_controller.service import build_app

PROCFILE = {"web": "python app.py", "worker": "python worker.py"}


@pytest.fixture
def controller_overrides() -> dict[str, Any]:
    return {
        "max_request_bytes": 64 << 10,
        "max_config_bytes": 8 << 10,
        "max_processes_per_type": 10,
        "max_processes_per_app": 15,
        "max_run_command_bytes": 1024,
    }


@pytest.fixture
async def built(client: httpx.AsyncClient, auth, owner: str, app_id: str) -> str:
    """`app_id` with a release of an image build whose Procfile has `web` and `worker`."""
    made = await client.post(
        f"/v2/apps/{app_id}/builds/",
        json={"image": "example/app", "procfile": PROCFILE},
        headers=auth(owner),
    )
    assert made.status_code == 201, made.text
    return app_id


async def snapshot(controller: FastAPI, app_id: str) -> tuple[Any, ...]:
    """Everything a refused request must leave as it was."""
    async with controller.state.context.pool.acquire() as conn:
        app = await conn.fetchrow("SELECT uuid, structure FROM apps WHERE id = $1", app_id)
        return (
            dict(app),
            await conn.fetchval("SELECT count(*) FROM releases WHERE app_uuid = $1", app["uuid"]),
            await conn.fetchval("SELECT count(*) FROM configs WHERE app_uuid = $1", app["uuid"]),
            await conn.fetchval("SELECT count(*) FROM outbox"),
        )


@pytest.fixture
async def refused(
    desired, client: httpx.AsyncClient, controller: FastAPI, auth, owner: str, built: str
) -> AsyncIterator[Any]:
    """`await refused(method, path, status, **request)`: the request gets `status` with a JSON
    detail and changes nothing; after the test, a normal config change is still released."""

    async def send(method: str, path: str, status: int, **request: Any) -> Any:
        before = await snapshot(controller, built)
        request.setdefault("headers", auth(owner))
        answer = await client.request(method, path.format(app=built), **request)
        assert answer.status_code == status, answer.text[:500]
        body = answer.json()
        assert body, answer.text
        assert await snapshot(controller, built) == before
        return body

    yield send
    changed = await client.post(
        f"/v2/apps/{built}/config/", json={"values": {"GREETING": "hi"}}, headers=auth(owner)
    )
    assert changed.status_code == 201, changed.text
    assert (await desired(built)).config["GREETING"] == "hi"


def nested(depth: int, *, kind: str) -> bytes:
    opening, closing = ("[", "]") if kind == "array" else ('{"a":', "}")
    return (opening * depth + "1" + closing * depth).encode()


CONFIG = "/v2/apps/{app}/config/"
JSON = {"Content-Type": "application/json"}


async def test_a_body_over_the_cap_is_refused_before_it_is_read(refused, auth, owner):
    body = json.dumps({"values": {"BIG": "x" * (10 << 20)}})
    answer = await refused("POST", CONFIG, 413, content=body, headers=auth(owner))
    assert answer == {"detail": "Request body too large: at most 65536 bytes are accepted."}


async def test_a_body_over_the_cap_without_a_length_is_cut_off(refused, auth, owner):
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"values": {"BIG": "'
        for _ in range(100):
            yield b"x" * 4096
        yield b'"}}'

    answer = await refused("POST", CONFIG, 413, content=chunks(), headers=auth(owner))
    assert "too large" in answer["detail"]


@pytest.mark.parametrize(
    "path",
    [CONFIG, "/v2/apps/{app}/scale/", "/v2/apps/{app}/settings/", "/v2/apps/{app}/domains/"],
)
@pytest.mark.parametrize(("depth", "kind"), [(30_000, "array"), (10_000, "object"), (33, "array")])
async def test_deeply_nested_json_is_a_parse_error(refused, auth, owner, path, depth, kind):
    # Deep enough to exhaust Python's recursion, and just past the depth bound (32).
    body = nested(depth, kind=kind)
    answer = await refused("POST", path, 400, content=body, headers={**auth(owner), **JSON})
    assert answer == {"detail": "JSON parse error - JSON nested more than 32 levels deep"}


async def test_deep_json_inside_a_form_field_is_refused(refused, auth, owner):
    form = {"values": nested(2000, kind="object").decode()}
    form_type = {"Content-Type": "application/x-www-form-urlencoded"}
    answer = await refused("POST", CONFIG, 400, data=form, headers={**auth(owner), **form_type})
    assert answer == {"values": ["Value must be valid JSON."]}


async def test_a_config_over_its_size_cap_is_refused(refused):
    answer = await refused("POST", CONFIG, 400, json={"values": {"BIG": "x" * (9 << 10)}})
    assert "may take at most 8,192" in answer["detail"]


async def test_a_config_growing_over_its_cap_in_steps_is_refused(
    client, auth, owner, built, refused
):
    for name in ("A", "B"):
        stepped = await client.post(
            CONFIG.format(app=built), json={"values": {name: "x" * (3 << 10)}}, headers=auth(owner)
        )
        assert stepped.status_code == 201, stepped.text
    await refused("POST", CONFIG, 400, json={"values": {"C": "x" * (3 << 10)}})


async def test_a_config_key_over_its_length_is_refused(refused):
    answer = await refused("POST", CONFIG, 400, json={"values": {"K" * 257: "v"}})
    assert answer == {"values": ["Config keys may be at most 256 characters long"]}


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("cpu", "-1", "CPU limit format"),
        ("cpu", "0.0001", "whole millicores"),
        ("memory", "200GB/100MB", "may not exceed its limit"),
        ("memory", "9999999999G", "at most 1 PiB"),
    ],
)
async def test_limits_no_backend_can_apply_are_refused(refused, field, value, message):
    answer = await refused("POST", CONFIG, 400, json={field: {"web": value}})
    assert message in answer[field][0]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"web": 99999999}, "more than the 10 processes a type may have"),
        ({"web": 1e9}, "more than the 10 processes a type may have"),
        ({"web": "11"}, "more than the 10 processes a type may have"),
        ({"web": 10, "worker": 6}, "16 processes in all is more than the 15"),
        ({"web": 1.5}, "1.5 is not a whole number"),
        ({"web": True}, "True is not a whole number"),
        ({"web": 10**400}, "more than the 10 processes"),
    ],
)
async def test_scale_counts_over_the_caps_are_refused(refused, body, message):
    answer = await refused("POST", "/v2/apps/{app}/scale/", 400, json=body)
    assert message in answer["detail"]


async def test_scaling_up_to_the_caps_works(desired, client, auth, owner, built, controller):
    scaled = await client.post(
        f"/v2/apps/{built}/scale/", json={"web": 10, "worker": 5}, headers=auth(owner)
    )
    assert scaled.status_code == 204, scaled.text
    assert (await desired(built)).formation == {"web": 10, "worker": 5}


async def test_a_run_command_over_its_length_is_refused(refused):
    answer = await refused("POST", "/v2/apps/{app}/run/", 400, json={"command": "x" * 1025})
    assert answer == {"detail": "command is 1,025 bytes long; at most 1,024 are taken"}


async def test_run_in_an_image_release_is_the_clients_mistake(refused):
    answer = await refused("POST", "/v2/apps/{app}/run/", 400, json={"command": "ls"})
    assert "runs a Docker image" in answer["detail"]


async def test_the_bus_limit_is_the_servers_less_header_room(controller_settings, nc):
    for setting, expected in ((None, nc.max_payload - api_app.HEADER_ROOM), (4096, 4096)):
        app = build_app(controller_settings.model_copy(update={"max_message_bytes": setting}))
        async with app.router.lifespan_context(app):
            assert app.state.context.settings.max_message_bytes == expected


@pytest.mark.parametrize("controller_overrides", [{"max_message_bytes": 4096}])
async def test_a_desired_state_the_bus_cannot_carry_is_refused(refused):
    # Under the config cap (32 KiB by default), over what the bus carries.
    answer = await refused("POST", CONFIG, 400, json={"values": {"BIG": "x" * 4096}})
    assert "more than the message bus carries (4,096)" in answer["detail"]
