"""The builder hooks over HTTP (docs/api.md §2.12): only the builder's key opens them."""

import secrets
import uuid

import httpx
import pytest

BUILDER = {"X-Deis-Builder-Auth": "builder-secret"}
"""The key `make_settings` gives the controller under test."""


def fingerprint() -> str:
    return ":".join(f"{byte:02x}" for byte in secrets.token_bytes(16))


async def add_key(controller, *, username: str, fp: str, public: str | None = None) -> str:
    public = public or f"ssh-ed25519 AAAA{secrets.token_hex(8)} {username}"
    await controller.state.context.pool.execute(
        """
        INSERT INTO keys (uuid, id, owner_id, public, fingerprint)
        SELECT $1, $2, id, $3, $4 FROM users WHERE username = $5
        """,
        uuid.uuid4(),
        f"{username}-{secrets.token_hex(3)}",
        public,
        fp,
        username,
    )
    return public


async def share(controller, *, app_id: str, username: str) -> None:
    await controller.state.context.pool.execute(
        """
        INSERT INTO app_perms (app_uuid, user_id)
        SELECT a.uuid, u.id FROM apps a, users u WHERE a.id = $1 AND u.username = $2
        """,
        app_id,
        username,
    )


@pytest.fixture
async def apps(client: httpx.AsyncClient, register, auth, controller, unique) -> list[str]:
    """alice (admin) owns `<unique>a`; bob owns `<unique>b` and is granted `<unique>a`; carol
    is a user without apps."""
    alice = await register("alice")
    bob = await register("bob")
    await register("carol")
    for name, token in ((f"{unique}a", alice), (f"{unique}b", bob)):
        created = await client.post("/v2/apps/", json={"id": name}, headers=auth(token))
        assert created.status_code == 201
    await share(controller, app_id=f"{unique}a", username="bob")
    return [f"{unique}a", f"{unique}b"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v2/hooks/key/aa:bb"),
        ("POST", "/v2/hooks/config/"),
        ("POST", "/v2/hooks/build/"),
        ("GET", "/v2/hooks/keys/someapp"),
        ("GET", "/v2/hooks/keys/someapp/bob"),
    ],
)
@pytest.mark.parametrize("headers", [{}, {"X-Deis-Builder-Auth": "wrong"}])
async def test_hooks_need_the_builder_key(client, method, path, headers):
    response = await client.request(method, path, headers=headers, json={})
    assert response.status_code == 401
    assert response.json() == {"detail": "Authentication credentials were not provided."}


async def test_a_user_token_does_not_open_the_hooks(client, register, auth):
    token = await register("alice")
    response = await client.post("/v2/hooks/config/", json={}, headers=auth(token))
    assert response.status_code == 401


@pytest.mark.parametrize("controller_overrides", [{"builder_key": ""}])
async def test_an_empty_builder_key_disables_the_hooks(client):
    response = await client.post("/v2/hooks/config/", json={}, headers={"X-Deis-Builder-Auth": ""})
    assert response.status_code == 401


async def test_key_hook_names_the_owner_and_the_apps_they_may_use(client, controller, apps):
    fp = fingerprint()
    await add_key(controller, username="bob", fp=fp)
    response = await client.get(f"/v2/hooks/key/{fp}", headers=BUILDER)
    assert response.status_code == 200
    assert response.json() == {"username": "bob", "apps": sorted(apps)}


async def test_key_hook_lists_every_app_for_an_admin_and_none_for_a_user_without(
    client, controller, apps
):
    admin, carol = fingerprint(), fingerprint()
    await add_key(controller, username="alice", fp=admin)
    await add_key(controller, username="carol", fp=carol)
    assert (await client.get(f"/v2/hooks/key/{admin}", headers=BUILDER)).json()["apps"] == apps
    assert (await client.get(f"/v2/hooks/key/{carol}", headers=BUILDER)).json() == {
        "username": "carol",
        "apps": [],
    }


async def test_key_hook_404s_unknown_fingerprints_and_takes_no_slash(client, controller, apps):
    fp = fingerprint()
    await add_key(controller, username="bob", fp=fp)
    missing = await client.get(f"/v2/hooks/key/{fingerprint()}", headers=BUILDER)
    assert (missing.status_code, missing.json()) == (404, "No Key matches the given query.")
    slash = await client.get(f"/v2/hooks/key/{fp}/", headers=BUILDER)
    assert slash.status_code == 404


async def test_config_hook_answers_the_current_config(client, controller, apps):
    body = {"receive_user": "bob", "receive_repo": apps[0]}
    response = await client.post("/v2/hooks/config", json=body, headers=BUILDER)
    assert response.status_code == 200, response.text
    config = response.json()
    assert set(config) == {
        "uuid", "owner", "app", "values", "memory", "cpu", "tags", "registry", "healthcheck",
        "created", "updated",
    }  # fmt: skip
    assert (config["owner"], config["app"], config["values"]) == ("alice", apps[0], {})


@pytest.mark.parametrize("path", ["/v2/hooks/config/", "/v2/hooks/build/"])
async def test_receiving_hooks_check_the_app_and_the_user(client, controller, apps, path):
    async def post(user, repo):
        body = {"receive_user": user, "receive_repo": repo, "image": "x"}
        return await client.post(path, json=body, headers=BUILDER)

    missing_app = await post("bob", f"{apps[0]}zz")
    assert (missing_app.status_code, missing_app.json()) == (404, "No App matches the given query.")
    missing_user = await post("nobody", apps[0])
    assert (missing_user.status_code, missing_user.json()) == (
        404,
        "No User matches the given query.",
    )
    assert (await post("carol", apps[0])).status_code == 403
    refused = await client.post(path, json={"receive_user": "bob"}, headers=BUILDER)
    assert (refused.status_code, refused.json()) == (
        400,
        {"detail": "receive_repo is a required field"},
    )


async def test_build_hook_creates_a_release(client, controller, apps):
    body = {
        "receive_user": "bob",
        "receive_repo": apps[0],
        "image": f"slugs/{apps[0]}/abc1234.tar.gz",
        "sha": "abc1234",
        "procfile": {"web": "python app.py"},
        "dockerfile": "",
    }
    response = await client.post("/v2/hooks/build/", json=body, headers=BUILDER)
    assert response.status_code == 200, response.text
    assert response.json() == {"release": {"version": 2}}
    row = await controller.state.context.pool.fetchrow(
        """
        SELECT b.sha, b.slug_key, o.username AS owner, r.version
        FROM releases r JOIN builds b ON b.uuid = r.build_uuid JOIN users o ON o.id = b.owner_id
        WHERE r.app_uuid = (SELECT uuid FROM apps WHERE id = $1)
        ORDER BY r.version DESC LIMIT 1
        """,
        apps[0],
    )
    assert dict(row) == {
        "sha": "abc1234",
        "slug_key": f"slugs/{apps[0]}/abc1234.tar.gz",
        "owner": "bob",
        "version": 2,
    }


async def test_build_hook_validates_the_build(client, controller, apps):
    base = {"receive_user": "bob", "receive_repo": apps[0]}
    missing = await client.post("/v2/hooks/build/", json=base, headers=BUILDER)
    assert (missing.status_code, missing.json()) == (400, {"image": ["This field is required."]})
    bad = await client.post(
        "/v2/hooks/build/",
        json={**base, "image": "x", "procfile": {"Bad_Type": "run"}},
        headers=BUILDER,
    )
    assert bad.status_code == 400
    assert "procfile" in bad.json()


async def test_app_keys_hook_lists_the_keys_of_granted_users(client, controller, apps):
    bob_key = await add_key(controller, username="bob", fp=fingerprint())
    await add_key(controller, username="alice", fp=fingerprint())  # owner, not granted
    response = await client.get(f"/v2/hooks/keys/{apps[0]}", headers=BUILDER)
    assert response.status_code == 200
    [listed] = response.json()["bob"]
    assert listed["key"] == bob_key
    assert set(response.json()) == {"bob"}
    assert (await client.get(f"/v2/hooks/keys/{apps[1]}/", headers=BUILDER)).json() == {}
    missing = await client.get(f"/v2/hooks/keys/{apps[0]}zz", headers=BUILDER)
    assert (missing.status_code, missing.json()) == (404, "No App matches the given query.")


async def test_user_keys_hook(client, controller, apps):
    fp = fingerprint()
    key = await add_key(controller, username="bob", fp=fp)
    response = await client.get(f"/v2/hooks/keys/{apps[0]}/bob", headers=BUILDER)
    assert response.status_code == 200
    assert response.json() == {"bob": [{"key": key, "fingerprint": fp}]}
    owner = await client.get(f"/v2/hooks/keys/{apps[0]}/alice/", headers=BUILDER)
    assert (owner.status_code, owner.json()) == (404, {"detail": "No Keys match the given query."})
    assert (await client.get(f"/v2/hooks/keys/{apps[1]}/carol", headers=BUILDER)).status_code == 403
    unknown = await client.get(f"/v2/hooks/keys/{apps[0]}/nobody", headers=BUILDER)
    assert (unknown.status_code, unknown.json()) == (404, "No User matches the given query.")
