"""Config over HTTP: show, set, unset, validation, summaries, releases and desired state (§2.3)."""

import json
from typing import Any

import httpx
import pytest

CONFIG_FIELDS = {
    "uuid",
    "owner",
    "app",
    "values",
    "memory",
    "cpu",
    "tags",
    "registry",
    "healthcheck",
    "created",
    "updated",
}


async def set_config(client: httpx.AsyncClient, headers, app_id: str, body: Any) -> httpx.Response:
    return await client.post(f"/v2/apps/{app_id}/config/", json=body, headers=headers)


async def releases(client, headers, app_id: str) -> list[dict[str, Any]]:
    listed = await client.get(f"/v2/apps/{app_id}/releases/", headers=headers)
    assert listed.status_code == 200, listed.text
    results: list[dict[str, Any]] = listed.json()["results"]
    return results


async def test_fresh_app_has_an_empty_config_of_release_v1(client, auth, owner, app_id):
    shown = await client.get(f"/v2/apps/{app_id}/config", headers=auth(owner))
    assert shown.status_code == 200
    body = shown.json()
    assert set(body) == CONFIG_FIELDS
    assert (body["owner"], body["app"]) == ("autotest", app_id)
    for field in ("values", "memory", "cpu", "tags", "registry", "healthcheck"):
        assert body[field] == {}
    [v1] = await releases(client, auth(owner), app_id)
    assert v1["config"] == body["uuid"]


async def test_setting_a_value_makes_a_release_with_the_summary_upstream_pins(
    client, auth, owner, app_id
):
    changed = await set_config(
        client, auth(owner), app_id, {"values": {"NEW_URL": "http://localhost:8080/"}}
    )
    assert changed.status_code == 201, changed.text
    body = changed.json()
    assert body["values"] == {"NEW_URL": "http://localhost:8080/"}
    newest, first = await releases(client, auth(owner), app_id)
    assert (newest["version"], newest["summary"]) == (2, "autotest added NEW_URL")
    assert newest["config"] == body["uuid"] != first["config"]
    assert newest["build"] is None
    shown = await client.get(f"/v2/apps/{app_id}/config/", headers=auth(owner))
    assert shown.json() == body


async def test_output_values_are_strings_and_other_fields_carry_forward(
    client, auth, owner, app_id
):
    first = await set_config(
        client,
        auth(owner),
        app_id,
        {"values": {"PORT": 5000, "N": 1}, "memory": {"web": "1G"}, "cpu": {"web": 1}},
    )
    assert first.status_code == 201, first.text
    assert first.json()["values"] == {"PORT": "5000", "N": "1"}
    assert first.json()["cpu"] == {"web": "1"}
    second = await set_config(client, auth(owner), app_id, {"values": {"OTHER": "x"}})
    assert second.status_code == 201, second.text
    body = second.json()
    assert body["values"] == {"PORT": "5000", "N": "1", "OTHER": "x"}
    assert (body["memory"], body["cpu"]) == ({"web": "1G"}, {"web": "1"})


async def test_null_unsets_and_unsetting_a_missing_key_is_422(client, auth, owner, app_id):
    await set_config(client, auth(owner), app_id, {"values": {"A": "1", "B": "2"}})
    unset = await set_config(client, auth(owner), app_id, {"values": {"A": None}})
    assert unset.status_code == 201, unset.text
    assert unset.json()["values"] == {"B": "2"}
    assert (await releases(client, auth(owner), app_id))[0]["summary"] == "autotest deleted A"
    missing = await set_config(client, auth(owner), app_id, {"values": {"A": None}})
    assert missing.status_code == 422
    assert missing.json() == {"detail": "A does not exist under values"}
    assert len(await releases(client, auth(owner), app_id)) == 3


async def test_a_change_that_changes_nothing_is_409_and_leaves_no_row(
    client, controller, auth, owner, app_id
):
    await set_config(client, auth(owner), app_id, {"values": {"A": "1"}})
    again = await set_config(client, auth(owner), app_id, {"values": {"A": "1"}})
    assert again.status_code == 409
    assert again.json() == {"detail": "autotest changed nothing - release stopped"}
    empty = await set_config(client, auth(owner), app_id, {})
    assert empty.status_code == 409
    assert len(await releases(client, auth(owner), app_id)) == 2
    async with controller.state.context.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM configs") == 2


async def test_form_encoded_body_with_a_json_string_as_upstream_tests_send(
    client, auth, owner, app_id
):
    changed = await client.post(
        f"/v2/apps/{app_id}/config/",
        data={"values": json.dumps({"PORT": "5000"})},
        headers={**auth(owner), "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert changed.status_code == 201, changed.text
    assert changed.json()["values"] == {"PORT": "5000"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"values": {"123": "x"}}, "values"),
        ({"values": {"FOO-BAR": "x"}}, "values"),
        ({"values": {"PORT": "http"}}, "values"),
        ({"memory": {"web": "20MK"}}, "memory"),
        ({"cpu": {"web": "1G"}}, "cpu"),
        ({"tags": {"in\nvalid": "x"}}, "tags"),
    ],
)
async def test_invalid_values_are_field_errors(client, auth, owner, app_id, body, field):
    refused = await set_config(client, auth(owner), app_id, body)
    assert refused.status_code == 400, refused.text
    errors = refused.json()
    assert list(errors) == [field]
    assert isinstance(errors[field], list) and errors[field]
    assert len(await releases(client, auth(owner), app_id)) == 1


async def test_registry_needs_a_port(client, auth, owner, app_id):
    refused = await set_config(client, auth(owner), app_id, {"registry": {"username": "bob"}})
    assert refused.status_code == 400
    assert refused.json() == {
        "detail": "PORT needs to be set in the config when using a private registry"
    }
    await set_config(client, auth(owner), app_id, {"values": {"PORT": "80"}})
    accepted = await set_config(client, auth(owner), app_id, {"registry": {"PASSWORD": "s"}})
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["registry"] == {"password": "s"}


PROBE = {
    "initialDelaySeconds": 50,
    "timeoutSeconds": 50,
    "periodSeconds": 10,
    "successThreshold": 1,
    "failureThreshold": 3,
    "httpGet": {"path": "/", "port": 5000, "httpHeaders": []},
}


async def test_healthcheck_in_the_sdk_shape_round_trips_with_integers(
    desired, client, controller, auth, owner, app_id
):
    built = await client.post(
        f"/v2/apps/{app_id}/builds/",
        json={"image": "a/b", "procfile": {"web": "serve"}},
        headers=auth(owner),
    )
    assert built.status_code == 201, built.text
    body = {"healthcheck": {"web/cmd": {"livenessProbe": PROBE}}}
    changed = await set_config(client, auth(owner), app_id, body)
    assert changed.status_code == 201, changed.text
    assert changed.json()["healthcheck"] == body["healthcheck"]
    newest = (await releases(client, auth(owner), app_id))[0]
    assert newest["summary"] == "autotest added healthcheck info for proc type web/cmd"
    assert newest["build"] == built.json()["uuid"]
    state = await desired(app_id)
    probe = state.healthchecks["web"].liveness_probe
    assert probe is not None and probe.http_get is not None
    assert (probe.http_get.port, probe.period_seconds) == (5000, 10)
    unset = await set_config(
        client, auth(owner), app_id, {"healthcheck": {"web/cmd": {"livenessProbe": None}}}
    )
    assert unset.status_code == 201, unset.text
    assert unset.json()["healthcheck"] == {"web/cmd": {}}


async def test_legacy_healthcheck_url_becomes_probes_for_web_and_cmd(client, auth, owner, app_id):
    changed = await set_config(
        client,
        auth(owner),
        app_id,
        {"values": {"HEALTHCHECK_URL": "/health", "HEALTHCHECK_PERIOD_SECONDS": "7", "A": "b"}},
    )
    assert changed.status_code == 201, changed.text
    body = changed.json()
    assert body["values"] == {"A": "b"}
    probes = body["healthcheck"]["web/cmd"]
    for name in ("livenessProbe", "readinessProbe"):
        probe = probes[name]
        assert probe["httpGet"]["path"] == "/health"
        assert probe["periodSeconds"] == 7
        assert (probe["initialDelaySeconds"], probe["timeoutSeconds"]) == (50, 50)
        assert (probe["successThreshold"], probe["failureThreshold"]) == (1, 3)


async def test_config_owner_is_the_caller_and_desired_state_follows(
    desired, client, controller, auth, register, owner, app_id
):
    other = await register("other")
    async with controller.state.context.pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO app_perms (app_uuid, user_id)"
            " SELECT a.uuid, u.id FROM apps a, users u WHERE a.id = $1 AND u.username = 'other'",
            app_id,
        )
    changed = await set_config(client, auth(other), app_id, {"values": {"WHO": "other"}})
    assert changed.status_code == 201, changed.text
    assert changed.json()["owner"] == "other"
    newest = (await releases(client, auth(owner), app_id))[0]
    assert (newest["owner"], newest["summary"]) == ("other", "other added WHO")
    state = await desired(app_id)
    assert state.release.version == 2
    assert state.config == {"WHO": "other"}
    assert state.build is None


async def test_config_of_the_latest_release_that_did_not_fail(
    client, controller, auth, owner, app_id
):
    good = (await set_config(client, auth(owner), app_id, {"values": {"A": "1"}})).json()
    await set_config(client, auth(owner), app_id, {"values": {"A": "2"}})
    async with controller.state.context.pool.acquire() as conn:
        await conn.execute("UPDATE releases SET failed = true WHERE version = 3")
    shown = await client.get(f"/v2/apps/{app_id}/config/", headers=auth(owner))
    assert shown.json() == good
    # The base of the next change is v2's config; the version still counts the failed v3.
    changed = await set_config(client, auth(owner), app_id, {"values": {"B": "1"}})
    assert changed.json()["values"] == {"A": "1", "B": "1"}
    assert (await releases(client, auth(owner), app_id))[0]["version"] == 4


async def test_who_may_show_and_set_the_config(client, controller, auth, register):
    admin = await register("root")
    owner = await register("owner")
    collaborator = await register("collab")
    stranger = await register("stranger")
    created = await client.post("/v2/apps/", json={"id": "permapp"}, headers=auth(owner))
    assert created.status_code == 201
    async with controller.state.context.pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO app_perms (app_uuid, user_id)"
            " SELECT a.uuid, u.id FROM apps a, users u WHERE a.id = $1 AND u.username = 'collab'",
            "permapp",
        )
    path = "/v2/apps/permapp/config/"
    assert (await client.get(path)).status_code == 401
    assert (await client.post(path, json={"values": {"X": "1"}})).status_code == 401
    assert (await client.get(path, headers=auth(stranger))).status_code == 403
    refused = await client.post(path, json={"values": {"X": "1"}}, headers=auth(stranger))
    assert refused.status_code == 403
    for number, token in enumerate((owner, collaborator, admin)):
        assert (await client.get(path, headers=auth(token))).status_code == 200
        changed = await client.post(path, json={"values": {"X": str(number)}}, headers=auth(token))
        assert changed.status_code == 201, changed.text
    assert (await client.get("/v2/apps/nope/config/", headers=auth(admin))).status_code == 404
    for method in ("PUT", "PATCH", "DELETE"):
        assert (await client.request(method, path, headers=auth(owner))).status_code == 405
