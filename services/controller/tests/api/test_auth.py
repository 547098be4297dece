"""Users and credentials over HTTP (docs/api.md §2.1)."""

import httpx
import pytest


async def test_api_root_needs_a_token_as_the_cli_checks(auth, client: httpx.AsyncClient, register):
    anonymous = await client.get("/v2/")
    assert anonymous.status_code == 401
    assert anonymous.json() == {"detail": "Authentication credentials were not provided."}
    assert anonymous.headers["www-authenticate"] == "Token"
    token = await register("alice")
    assert (await client.get("/v2/", headers=auth(token))).json() == {}


async def test_every_response_carries_the_version_headers(client: httpx.AsyncClient):
    for response in (
        await client.get("/v2/"),
        await client.get("/healthz"),
        await client.get("/no/such/route"),
        await client.patch("/v2/auth/whoami/"),
    ):
        assert response.headers["DEIS_API_VERSION"] == "2.3"
        assert response.headers["DEIS_PLATFORM_VERSION"] == "2.3.0"


async def test_healthz_and_readiness_answer_plain_ok(client: httpx.AsyncClient):
    for path in ("/healthz", "/readiness"):
        response = await client.get(path)
        assert (response.status_code, response.text) == (200, "OK")
    assert (await client.post("/healthz")).status_code == 405


async def test_first_user_is_admin_and_the_second_is_not(client: httpx.AsyncClient):
    first = await client.post("/v2/auth/register/", json={"username": "a", "password": "p"})
    second = await client.post("/v2/auth/register", json={"username": "b", "password": "p"})
    assert first.status_code == second.status_code == 201
    assert first.json()["is_superuser"] is True and first.json()["is_staff"] is True
    assert second.json()["is_superuser"] is False
    assert set(first.json()) == {
        "username",
        "email",
        "first_name",
        "last_name",
        "is_superuser",
        "is_staff",
        "is_active",
        "groups",
        "user_permissions",
        "last_login",
        "date_joined",
    }


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"password": "p"}, {"username": ["This field is required."]}),
        ({"username": "", "password": "p"}, {"username": ["This field may not be blank."]}),
        (
            {"username": "bad name!", "password": "p"},
            {
                "username": [
                    "Enter a valid username. This value may contain only letters, numbers"
                    " and @/./+/-/_ characters."
                ]
            },
        ),
        ({"username": "x"}, {"password": ["This field is required."]}),
        ({"username": "x", "password": ""}, {"password": ["This field may not be blank."]}),
        (
            {"username": "x", "password": "p", "email": "nope"},
            {"email": ["Enter a valid email address."]},
        ),
    ],
)
async def test_registration_errors_use_the_messages_the_cli_knows(
    client: httpx.AsyncClient, body, errors
):
    response = await client.post("/v2/auth/register/", json=body)
    assert response.status_code == 400
    assert response.json() == errors


async def test_duplicate_username_is_refused(client: httpx.AsyncClient, register):
    await register("alice")
    again = await client.post("/v2/auth/register/", json={"username": "alice", "password": "x"})
    assert again.status_code == 400
    assert again.json() == {"username": ["A user with that username already exists."]}


async def test_form_encoded_registration_works_as_in_upstream_tests(client: httpx.AsyncClient):
    response = await client.post(
        "/v2/auth/register/",
        content="username=formuser&password=pw",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 201
    assert response.json()["username"] == "formuser"


async def test_login_needs_the_trailing_slash_and_right_password(
    client: httpx.AsyncClient, register
):
    await register("alice", "right")
    assert (await client.post("/v2/auth/login", json={})).status_code == 404
    wrong = await client.post("/v2/auth/login/", json={"username": "alice", "password": "no"})
    assert wrong.status_code == 400
    assert wrong.json() == {"non_field_errors": ["Unable to log in with provided credentials."]}
    unknown = await client.post("/v2/auth/login/", json={"username": "zed", "password": "no"})
    assert unknown.json() == wrong.json()
    missing = await client.post("/v2/auth/login/", json={"password": "x"})
    assert missing.json() == {"username": ["This field is required."]}


async def test_tokens_are_40_hex_and_stored_only_as_hashes(
    client: httpx.AsyncClient, register, controller
):
    token = await register("alice")
    assert len(token) == 40 and int(token, 16) >= 0 and token == token.lower()
    pool = controller.state.context.pool
    stored = await pool.fetch("SELECT token_hash FROM tokens")
    assert stored and all(token.encode() not in bytes(row["token_hash"]) for row in stored)
    assert all(bytes(row["token_hash"]).hex() != token for row in stored)


async def test_whoami_and_bad_tokens(auth, client: httpx.AsyncClient, register):
    token = await register("alice", email="a@example.com")
    me = await client.get("/v2/auth/whoami/", headers=auth(token))
    assert me.json()["username"] == "alice" and me.json()["email"] == "a@example.com"
    bad = await client.get("/v2/auth/whoami/", headers=auth("0" * 40))
    assert (bad.status_code, bad.json()) == (401, {"detail": "Invalid token."})
    empty = await client.get("/v2/auth/whoami/", headers={"Authorization": "token"})
    assert empty.status_code == 401 and "No credentials provided" in empty.json()["detail"]
    spaced = await client.get("/v2/auth/whoami/", headers={"Authorization": "token a b"})
    assert spaced.status_code == 401 and "should not contain spaces" in spaced.json()["detail"]
    upper = await client.get("/v2/auth/whoami/", headers={"Authorization": f"Token {token}"})
    assert upper.status_code == 200


async def test_passwd_rules(auth, client: httpx.AsyncClient, register):
    admin = await register("admin", "adminpw")
    alice = await register("alice", "old")
    missing = await client.post("/v2/auth/passwd/", json={}, headers=auth(alice))
    assert missing.json() == {"detail": "new_password is a required field"}
    no_current = await client.post(
        "/v2/auth/passwd/", json={"new_password": "new"}, headers=auth(alice)
    )
    assert no_current.json() == {"detail": "password is a required field"}
    wrong = await client.post(
        "/v2/auth/passwd/", json={"new_password": "new", "password": "bad"}, headers=auth(alice)
    )
    assert (wrong.status_code, wrong.json()) == (401, {"detail": "Current password does not match"})
    other = await client.post(
        "/v2/auth/passwd/",
        json={"new_password": "n", "password": "old", "username": "admin"},
        headers=auth(alice),
    )
    assert other.status_code == 403
    ok = await client.post(
        "/v2/auth/passwd/", json={"new_password": "new", "password": "old"}, headers=auth(alice)
    )
    assert (ok.status_code, ok.json()) == (200, {"status": "password set"})
    by_admin = await client.post(
        "/v2/auth/passwd/",
        json={"new_password": "third", "username": "alice"},
        headers=auth(admin),
    )
    assert by_admin.status_code == 200
    unknown = await client.post(
        "/v2/auth/passwd/", json={"new_password": "x", "username": "ghost"}, headers=auth(admin)
    )
    assert (unknown.status_code, unknown.json()) == (404, "No User matches the given query.")
    login = await client.post("/v2/auth/login/", json={"username": "alice", "password": "third"})
    assert login.status_code == 200


async def test_regenerating_a_token_revokes_the_old_one(auth, client: httpx.AsyncClient, register):
    admin = await register("admin")
    alice = await register("alice")
    fresh = await client.post("/v2/auth/tokens/", json={}, headers=auth(alice))
    new = fresh.json()["token"]
    assert new != alice
    assert (await client.get("/v2/auth/whoami/", headers=auth(alice))).status_code == 401
    assert (await client.get("/v2/auth/whoami/", headers=auth(new))).status_code == 200
    denied = await client.post("/v2/auth/tokens/", json={"all": True}, headers=auth(new))
    assert denied.status_code == 403
    everyone = await client.post("/v2/auth/tokens/", json={"all": True}, headers=auth(admin))
    assert (everyone.status_code, everyone.json()) == (200, "")
    assert (await client.get("/v2/auth/whoami/", headers=auth(new))).status_code == 401
    assert (await client.get("/v2/auth/whoami/", headers=auth(admin))).status_code == 401


async def test_cancel_refuses_owners_of_apps_then_deletes(
    auth, client: httpx.AsyncClient, register
):
    await register("admin")
    alice = await register("alice")
    created = await client.post("/v2/apps/", json={"id": "alices-app"}, headers=auth(alice))
    assert created.status_code == 201
    refused = await client.delete("/v2/auth/cancel/", headers=auth(alice))
    assert refused.status_code == 409
    assert (
        "still has applications assigned. Delete or transfer ownership" in refused.json()["detail"]
    )
    assert (await client.delete("/v2/apps/alices-app/", headers=auth(alice))).status_code == 204
    assert (await client.delete("/v2/auth/cancel/", headers=auth(alice))).status_code == 204
    assert (await client.get("/v2/auth/whoami/", headers=auth(alice))).status_code == 401


async def test_users_list_and_admin_perms_are_for_admins(auth, client: httpx.AsyncClient, register):
    admin = await register("admin")
    alice = await register("alice")
    assert (await client.get("/v2/users/", headers=auth(alice))).status_code == 403
    listed = await client.get("/v2/users/?limit=1", headers=auth(admin))
    assert listed.json()["count"] == 2 and len(listed.json()["results"]) == 1
    assert listed.json()["next"] is not None and listed.json()["previous"] is None
    assert (await client.get("/v2/admin/perms/", headers=auth(alice))).status_code == 403
    grant = await client.post("/v2/admin/perms/", json={"username": "alice"}, headers=auth(admin))
    assert grant.status_code == 201
    admins = await client.get("/v2/admin/perms/", headers=auth(admin))
    assert [a["username"] for a in admins.json()["results"]] == ["admin", "alice"]
    revoke = await client.delete("/v2/admin/perms/alice", headers=auth(admin))
    assert revoke.status_code == 204
    assert (await client.get("/v2/users/", headers=auth(alice))).status_code == 403
    missing = await client.post("/v2/admin/perms/", json={"username": "x"}, headers=auth(admin))
    assert missing.status_code == 404


async def test_unknown_method_is_405_with_drf_text(auth, client: httpx.AsyncClient, register):
    token = await register("alice")
    response = await client.patch("/v2/auth/whoami/", headers=auth(token))
    assert response.status_code == 405
    assert response.json() == {"detail": 'Method "PATCH" not allowed.'}


async def test_unknown_route_is_an_html_404(client: httpx.AsyncClient):
    response = await client.post("/v2/apps/=myapp/builds")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize("path", ["/v2/keys/%0A", "/v2/apps/%0A", "/v2/auth/login/%0A"])
async def test_a_path_ending_in_a_newline_is_no_route(client: httpx.AsyncClient, register, path):
    token = await register("nl-user")
    response = await client.get(path, headers={"Authorization": f"token {token}"})
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
