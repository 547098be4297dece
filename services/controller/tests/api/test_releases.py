"""Releases over HTTP: list, show, numbering with failed releases, rollback (§2.5, §3.3)."""

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

RELEASE_FIELDS = {
    "uuid",
    "owner",
    "app",
    "version",
    "summary",
    "failed",
    "config",
    "build",
    "created",
    "updated",
}


async def post(client: httpx.AsyncClient, headers, path: str, body: Any = None) -> httpx.Response:
    return await client.post(path, json=body, headers=headers)


async def listed(client, headers, app_id: str) -> list[dict[str, Any]]:
    response = await client.get(f"/v2/apps/{app_id}/releases/", headers=headers)
    assert response.status_code == 200, response.text
    results: list[dict[str, Any]] = response.json()["results"]
    return results


async def rollback(client, headers, app_id: str, body: Any = None) -> httpx.Response:
    return await post(client, headers, f"/v2/apps/{app_id}/releases/rollback/", body)


async def fail(controller: FastAPI, app_id: str, version: int) -> None:
    async with controller.state.context.pool.acquire() as conn:
        await conn.execute(
            "UPDATE releases SET failed = true WHERE version = $2"
            " AND app_uuid = (SELECT uuid FROM apps WHERE id = $1)",
            app_id,
            version,
        )


async def test_fresh_app_has_release_v1(client, auth, owner, app_id):
    [v1] = await listed(client, auth(owner), app_id)
    assert set(v1) == RELEASE_FIELDS
    assert (v1["version"], v1["owner"], v1["app"]) == (1, "autotest", app_id)
    assert (v1["summary"], v1["failed"], v1["build"]) == (
        "autotest created initial release",
        False,
        None,
    )
    shown = await client.get(f"/v2/apps/{app_id}/releases/v1/", headers=auth(owner))
    assert shown.status_code == 200
    assert shown.json() == v1
    assert (await client.get(f"/v2/apps/{app_id}/releases/v1", headers=auth(owner))).json() == v1


@pytest.mark.parametrize("version", ["v2", "v0", "v99999999999999999999"])
async def test_unknown_release_is_404(client, auth, owner, app_id, version):
    missing = await client.get(f"/v2/apps/{app_id}/releases/{version}/", headers=auth(owner))
    assert missing.status_code == 404
    assert missing.json() == "No Release matches the given query."


async def test_a_release_path_that_is_no_version_matches_no_route(client, auth, owner, app_id):
    missing = await client.get(f"/v2/apps/{app_id}/releases/vx/", headers=auth(owner))
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("text/html")


async def test_list_is_newest_first_with_failed_ones_and_paginated(
    client, controller, auth, owner, app_id
):
    for n in range(3):
        await post(client, auth(owner), f"/v2/apps/{app_id}/config/", {"values": {"N": str(n)}})
    await fail(controller, app_id, 3)
    response = await client.get(f"/v2/apps/{app_id}/releases/?limit=2", headers=auth(owner))
    body = response.json()
    assert body["count"] == 4
    assert [r["version"] for r in body["results"]] == [4, 3]
    assert [r["failed"] for r in body["results"]] == [False, True]
    rest = await client.get(body["next"], headers=auth(owner))
    assert [r["version"] for r in rest.json()["results"]] == [2, 1]


async def test_release_methods_that_do_not_exist_are_405(client, auth, owner, app_id):
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        path = f"/v2/apps/{app_id}/releases"
        assert (await client.request(method, path, headers=auth(owner))).status_code == 405
    for method in ("GET", "PUT", "DELETE"):
        path = f"/v2/apps/{app_id}/releases/rollback/"
        assert (await client.request(method, path, headers=auth(owner))).status_code == 405


async def test_rollback_on_a_fresh_app_is_below_zero(client, auth, owner, app_id):
    refused = await rollback(client, auth(owner), app_id)
    assert refused.status_code == 400
    assert refused.json() == {"detail": "version cannot be below 0"}
    refused = await rollback(client, auth(owner), app_id, {"version": 0})
    assert refused.json() == {"detail": "version cannot be below 0"}


async def test_rollback_to_the_initial_release_is_refused(client, auth, owner, app_id):
    await post(client, auth(owner), f"/v2/apps/{app_id}/builds/", {"image": "img/1"})
    for body in (None, {"version": 1}):
        refused = await rollback(client, auth(owner), app_id, body)
        assert refused.status_code == 400
        assert refused.json() == {"detail": "Cannot roll back to initial release."}
    assert len(await listed(client, auth(owner), app_id)) == 2


async def test_rollback_one_back_carries_build_and_config(
    desired, client, controller, auth, owner, app_id
):
    headers = auth(owner)
    await post(client, headers, f"/v2/apps/{app_id}/config/", {"values": {"A": "1"}})
    first = (await post(client, headers, f"/v2/apps/{app_id}/builds/", {"image": "img/1"})).json()
    await post(client, headers, f"/v2/apps/{app_id}/config/", {"values": {"A": "2"}})
    await post(client, headers, f"/v2/apps/{app_id}/builds/", {"image": "img/2"})
    before = {r["version"]: r for r in await listed(client, headers, app_id)}
    assert sorted(before) == [1, 2, 3, 4, 5]
    rolled = await rollback(client, headers, app_id)
    assert rolled.status_code == 201, rolled.text
    assert rolled.json() == {"version": 6}
    newest = (await listed(client, headers, app_id))[0]
    assert newest["summary"] == "autotest rolled back to v4"
    assert (newest["build"], newest["config"]) == (before[4]["build"], before[4]["config"])
    rolled = await rollback(client, headers, app_id, {"version": 3})
    assert rolled.json() == {"version": 7}
    newest = (await listed(client, headers, app_id))[0]
    assert newest["summary"] == "autotest rolled back to v3"
    assert newest["build"] == first["uuid"] == before[3]["build"]
    assert newest["config"] == before[3]["config"]
    config = await client.get(f"/v2/apps/{app_id}/config/", headers=headers)
    assert config.json()["values"] == {"A": "1"}
    state = await desired(app_id)
    assert (state.release.version, state.config) == (7, {"A": "1"})
    assert state.release.summary == "autotest rolled back to v3"


async def test_rollback_to_the_same_state_is_still_a_release(client, auth, owner, app_id):
    headers = auth(owner)
    for n in range(2):
        await post(client, headers, f"/v2/apps/{app_id}/config/", {"values": {"N": str(n)}})
    assert (await rollback(client, headers, app_id, {"version": 3})).json() == {"version": 4}


async def test_rollback_to_a_failed_release_is_refused(client, controller, auth, owner, app_id):
    headers = auth(owner)
    for n in range(3):
        await post(client, headers, f"/v2/apps/{app_id}/config/", {"values": {"N": str(n)}})
    await fail(controller, app_id, 3)
    refused = await rollback(client, headers, app_id, {"version": 3})
    assert refused.status_code == 400
    assert refused.json() == {"detail": "Cannot roll back to failed release."}
    # One back from the latest good release (v4) is the failed v3 too.
    assert (await rollback(client, headers, app_id)).json() == {
        "detail": "Cannot roll back to failed release."
    }
    rolled = await rollback(client, headers, app_id, {"version": "2"})
    assert rolled.status_code == 201
    assert rolled.json() == {"version": 5}


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"version": 9}, "Release matching query does not exist."),
        ({"version": 99999999999999}, "Release matching query does not exist."),
        ({"version": "abc"}, "invalid literal for int() with base 10: 'abc'"),
        ({"version": -3}, "version cannot be below 0"),
    ],
)
async def test_rollback_errors(client, auth, owner, app_id, body, detail):
    headers = auth(owner)
    for n in range(2):
        await post(client, headers, f"/v2/apps/{app_id}/config/", {"values": {"N": str(n)}})
    refused = await rollback(client, headers, app_id, body)
    assert refused.status_code == 400
    assert refused.json() == {"detail": detail}
    assert len(await listed(client, headers, app_id)) == 3


async def test_rollback_by_form_body(client, auth, owner, app_id):
    headers = auth(owner)
    for n in range(2):
        await post(client, headers, f"/v2/apps/{app_id}/config/", {"values": {"N": str(n)}})
    rolled = await client.post(
        f"/v2/apps/{app_id}/releases/rollback",
        data={"version": "2"},
        headers={**headers, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert rolled.status_code == 201
    assert rolled.json() == {"version": 4}


async def test_who_may_see_and_roll_back_releases(client, controller, auth, register):
    admin = await register("root")
    owner = await register("owner")
    collaborator = await register("collab")
    stranger = await register("stranger")
    assert (await client.post("/v2/apps/", json={"id": "permr"}, headers=auth(owner))).is_success
    async with controller.state.context.pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO app_perms (app_uuid, user_id)"
            " SELECT a.uuid, u.id FROM apps a, users u WHERE a.id = 'permr' AND u.username = $1",
            "collab",
        )
    for n in range(2):
        await post(client, auth(owner), "/v2/apps/permr/config/", {"values": {"N": str(n)}})
    paths = ("/v2/apps/permr/releases/", "/v2/apps/permr/releases/v1/")
    back = "/v2/apps/permr/releases/rollback/"
    for path in paths:
        assert (await client.get(path)).status_code == 401
        assert (await client.get(path, headers=auth(stranger))).status_code == 403
    assert (await client.post(back, json={"version": 2})).status_code == 401
    assert (await post(client, auth(stranger), back, {"version": 2})).status_code == 403
    for token in (owner, collaborator, admin):
        for path in paths:
            assert (await client.get(path, headers=auth(token))).status_code == 200
        rolled = await post(client, auth(token), back, {"version": 2})
        assert rolled.status_code == 201, rolled.text
    summaries = [r["summary"] for r in await listed(client, auth(owner), "permr")][:3]
    assert summaries == [
        "root rolled back to v2",
        "collab rolled back to v2",
        "owner rolled back to v2",
    ]
