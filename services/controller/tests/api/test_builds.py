"""Builds over HTTP: create (a release each), list, show, validation, formation (§2.4, §3.4)."""

import json
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from deis_shared import wire
from deis_shared.events.release import ReleaseCreated
from deis_shared.kv.desired import DesiredState

BUILD_FIELDS = {
    "uuid",
    "owner",
    "app",
    "image",
    "sha",
    "procfile",
    "dockerfile",
    "created",
    "updated",
}


async def build(client: httpx.AsyncClient, headers, app_id: str, body: Any) -> httpx.Response:
    return await client.post(f"/v2/apps/{app_id}/builds/", json=body, headers=headers)


async def newest_release(client, headers, app_id: str) -> dict[str, Any]:
    listed = await client.get(f"/v2/apps/{app_id}/releases/", headers=headers)
    newest: dict[str, Any] = listed.json()["results"][0]
    return newest


async def structure(client, headers, app_id: str) -> dict[str, int]:
    shown: dict[str, int] = (await client.get(f"/v2/apps/{app_id}/", headers=headers)).json()[
        "structure"
    ]
    return shown


async def outbox_rows(controller: FastAPI, **where: str) -> list[Any]:
    conditions = " AND ".join(f"{column} = ${n}" for n, column in enumerate(where, start=1))
    async with controller.state.context.pool.acquire() as conn:
        return list(
            await conn.fetch(
                f"SELECT payload FROM outbox WHERE {conditions} ORDER BY seq", *where.values()
            )
        )


async def test_fresh_app_has_no_builds(client, auth, owner, app_id):
    listed = await client.get(f"/v2/apps/{app_id}/builds/", headers=auth(owner))
    assert listed.status_code == 200
    assert listed.json() == {"count": 0, "next": None, "previous": None, "results": []}


async def test_image_build_makes_release_v2_and_runs_cmd(client, controller, auth, owner, app_id):
    created = await build(client, auth(owner), app_id, {"image": "autotest/example"})
    assert created.status_code == 201, created.text
    body = created.json()
    assert set(body) == BUILD_FIELDS
    assert (body["owner"], body["app"], body["image"]) == ("autotest", app_id, "autotest/example")
    assert (body["sha"], body["procfile"], body["dockerfile"]) == ("", {}, "")
    release = await newest_release(client, auth(owner), app_id)
    assert (release["version"], release["summary"]) == (2, "autotest deployed autotest/example")
    assert release["build"] == body["uuid"]
    assert await structure(client, auth(owner), app_id) == {"cmd": 1}
    [*_, event] = await outbox_rows(
        controller, kind="event", subject=f"deis.events.release.{app_id}.created"
    )
    announced = wire.decode(event["payload"], ReleaseCreated)
    assert (announced.version, announced.build_sha) == (2, None)
    assert announced.summary == "autotest deployed autotest/example"
    [*_, latest] = await outbox_rows(controller, kind="kv_put", bucket="desired", key=app_id)
    state = wire.decode(latest["payload"], DesiredState)
    assert (state.release.version, state.formation) == (2, {"cmd": 1})
    assert state.build is None  # no slug: an image release
    assert state.image is not None
    assert (state.image.image, state.image.sha, state.image.procfile) == (
        "autotest/example",
        "",
        {},
    )
    assert state.image.id == uuid.UUID(body["uuid"])


async def test_summary_names_the_short_sha_and_the_event_carries_it(
    client, controller, auth, owner, app_id
):
    sha = "abc1234def5678abc1234def5678abc1234def56"
    created = await build(
        client, auth(owner), app_id, {"image": "buildapp:git-abc1234", "sha": sha}
    )
    assert created.status_code == 201, created.text
    assert created.json()["sha"] == sha
    assert (await newest_release(client, auth(owner), app_id))["summary"] == (
        "autotest deployed abc1234"
    )
    [*_, event] = await outbox_rows(
        controller, kind="event", subject=f"deis.events.release.{app_id}.created"
    )
    assert wire.decode(event["payload"], ReleaseCreated).build_sha == sha


async def test_procfile_decides_the_first_formation_and_later_removals(client, auth, owner, app_id):
    procfile = {"web": "python app.py", "worker": "python worker.py"}
    first = await build(client, auth(owner), app_id, {"image": "a/b", "procfile": procfile})
    assert first.status_code == 201, first.text
    assert first.json()["procfile"] == procfile
    assert await structure(client, auth(owner), app_id) == {"web": 1}
    second = await build(client, auth(owner), app_id, {"image": "a/c", "procfile": {"web": "x"}})
    assert second.status_code == 201, second.text
    assert (await structure(client, auth(owner), app_id)).get("worker", 0) == 0
    assert (await structure(client, auth(owner), app_id))["web"] == 1


async def test_form_encoded_build_with_a_json_procfile(client, auth, owner, app_id):
    created = await client.post(
        f"/v2/apps/{app_id}/builds/",
        data={"image": "a/b", "procfile": json.dumps({"web": "node server.js"})},
        headers={**auth(owner), "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert created.status_code == 201, created.text
    assert created.json()["procfile"] == {"web": "node server.js"}


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({}, {"image": ["This field is required."]}),
        ({"image": ""}, {"image": ["This field may not be blank."]}),
        (
            {"image": "a", "sha": "a" * 41},
            {"sha": ["Ensure this field has no more than 40 characters."]},
        ),
    ],
)
async def test_field_errors(client, auth, owner, app_id, body, errors):
    refused = await build(client, auth(owner), app_id, body)
    assert refused.status_code == 400
    assert refused.json() == errors


@pytest.mark.parametrize("proc_type", ["worker_test", "Worker-test1", "-", "worker-", "-worker"])
async def test_bad_procfile_types_are_refused_and_release_nothing(
    client, auth, owner, app_id, proc_type
):
    refused = await build(client, auth(owner), app_id, {"image": "a", "procfile": {proc_type: "x"}})
    assert refused.status_code == 400
    assert list(refused.json()) == ["procfile"]
    assert (await newest_release(client, auth(owner), app_id))["version"] == 1
    listed = await client.get(f"/v2/apps/{app_id}/builds/", headers=auth(owner))
    assert listed.json()["count"] == 0


async def test_empty_procfile_command_is_refused(client, auth, owner, app_id):
    refused = await build(client, auth(owner), app_id, {"image": "a", "procfile": {"web": ""}})
    assert refused.status_code == 400
    assert list(refused.json()) == ["procfile"]


async def test_list_is_newest_first_and_paginated(client, auth, owner, app_id):
    made = [
        (await build(client, auth(owner), app_id, {"image": f"img/{n}"})).json()["uuid"]
        for n in range(3)
    ]
    listed = await client.get(f"/v2/apps/{app_id}/builds/?limit=2", headers=auth(owner))
    body = listed.json()
    assert body["count"] == 3
    assert [b["uuid"] for b in body["results"]] == made[::-1][:2]
    assert body["next"] is not None
    rest = await client.get(body["next"], headers=auth(owner))
    assert [b["uuid"] for b in rest.json()["results"]] == [made[0]]


async def test_show_answers_the_build_with_that_uuid(client, auth, owner, app_id):
    first = (await build(client, auth(owner), app_id, {"image": "img/1"})).json()
    await build(client, auth(owner), app_id, {"image": "img/2"})
    shown = await client.get(f"/v2/apps/{app_id}/builds/{first['uuid']}/", headers=auth(owner))
    assert shown.status_code == 200
    assert shown.json() == first
    for missing in (str(uuid.uuid4()), "not-a-uuid"):
        lookup = await client.get(f"/v2/apps/{app_id}/builds/{missing}", headers=auth(owner))
        assert lookup.status_code == 404
        assert lookup.json() == "No Build matches the given query."


async def test_build_methods_that_do_not_exist_are_405(client, auth, owner, app_id):
    made = (await build(client, auth(owner), app_id, {"image": "img/1"})).json()
    for path in (f"/v2/apps/{app_id}/builds/", f"/v2/apps/{app_id}/builds/{made['uuid']}/"):
        for method in ("PUT", "PATCH", "DELETE"):
            refused = await client.request(method, path, headers=auth(owner))
            assert refused.status_code == 405
            assert refused.json() == {"detail": f'Method "{method}" not allowed.'}


async def test_version_counts_failed_releases_and_builds_on_the_last_good_one(
    client, controller, auth, owner, app_id
):
    await client.post(
        f"/v2/apps/{app_id}/config/", json={"values": {"A": "1"}}, headers=auth(owner)
    )
    await client.post(
        f"/v2/apps/{app_id}/config/", json={"values": {"A": "2"}}, headers=auth(owner)
    )
    async with controller.state.context.pool.acquire() as conn:
        await conn.execute("UPDATE releases SET failed = true WHERE version = 3")
        good_config = await conn.fetchval("SELECT config_uuid FROM releases WHERE version = 2")
    await build(client, auth(owner), app_id, {"image": "img/1"})
    release = await newest_release(client, auth(owner), app_id)
    assert release["version"] == 4
    assert release["config"] == str(good_config)


@pytest.mark.parametrize("controller_overrides", [{"deploy_reject_if_procfile_missing": True}])
async def test_missing_procfile_after_one_is_409_when_configured(client, auth, owner, app_id):
    first = await build(client, auth(owner), app_id, {"image": "a", "procfile": {"web": "x"}})
    assert first.status_code == 201
    refused = await build(client, auth(owner), app_id, {"image": "b"})
    assert refused.status_code == 409
    assert refused.json() == {
        "detail": "Last deployment had a Procfile but is missing in this deploy. "
        "For a successful deployment provide a Procfile."
    }
    assert (await newest_release(client, auth(owner), app_id))["version"] == 2


@pytest.mark.parametrize("controller_overrides", [{"deploy_procfile_missing_remove": False}])
async def test_missing_procfile_keeps_the_old_one_when_removal_is_off(client, auth, owner, app_id):
    await build(client, auth(owner), app_id, {"image": "a", "procfile": {"web": "x", "w": "y"}})
    second = await build(client, auth(owner), app_id, {"image": "b"})
    assert second.status_code == 201, second.text
    assert second.json()["procfile"] == {"web": "x", "w": "y"}


async def test_who_may_list_and_create_builds(client, controller, auth, register):
    admin = await register("root")
    owner = await register("owner")
    collaborator = await register("collab")
    stranger = await register("stranger")
    assert (await client.post("/v2/apps/", json={"id": "permb"}, headers=auth(owner))).is_success
    async with controller.state.context.pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO app_perms (app_uuid, user_id)"
            " SELECT a.uuid, u.id FROM apps a, users u WHERE a.id = 'permb' AND u.username = $1",
            "collab",
        )
    path = "/v2/apps/permb/builds/"
    assert (await client.get(path)).status_code == 401
    assert (await client.post(path, json={"image": "x"})).status_code == 401
    assert (await client.get(path, headers=auth(stranger))).status_code == 403
    assert (await client.post(path, json={"image": "x"}, headers=auth(stranger))).status_code == 403
    for token in (owner, collaborator, admin):
        assert (await client.get(path, headers=auth(token))).status_code == 200
        created = await client.post(path, json={"image": "x"}, headers=auth(token))
        assert created.status_code == 201, created.text
        made = created.json()["uuid"]
        assert (await client.get(path + made, headers=auth(token))).status_code == 200
