"""Collaborators over HTTP (docs/api.md §2.9): list, grant, revoke, and who may do each."""

import json

import httpx
import pytest
from fastapi import FastAPI


@pytest.fixture
async def users(register) -> dict[str, str]:
    """Tokens of an admin (registered first), alice (the owner), bob (her collaborator), carol
    and eve."""
    return {name: await register(name) for name in ("admin", "alice", "bob", "carol", "eve")}


@pytest.fixture
async def app_id(client: httpx.AsyncClient, auth, users: dict[str, str], unique: str) -> str:
    """An app of alice's, shared with bob."""
    created = await client.post("/v2/apps/", json={"id": unique}, headers=auth(users["alice"]))
    assert created.status_code == 201
    assert (await grant(client, auth(users["alice"]), unique, "bob")).status_code == 201
    return unique


async def grant(
    client: httpx.AsyncClient, headers: dict[str, str], app_id: str, username
) -> httpx.Response:
    return await client.post(
        f"/v2/apps/{app_id}/perms/", json={"username": username}, headers=headers
    )


async def collaborators(client, headers, app_id: str) -> list[str]:
    response = await client.get(f"/v2/apps/{app_id}/perms/", headers=headers)
    assert response.status_code == 200, response.text
    users: list[str] = response.json()["users"]
    return users


async def log_lines(controller: FastAPI, app_id: str) -> list[str]:
    async with controller.state.context.pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT payload FROM outbox WHERE subject = $1 ORDER BY seq", f"deis.logs.{app_id}"
        )
    return [json.loads(row["payload"])["message"] for row in rows]


async def test_list_shows_collaborators_sorted_not_the_owner(client, auth, users, app_id):
    assert (await grant(client, auth(users["alice"]), app_id, "admin")).status_code == 201
    listed = await client.get(f"/v2/apps/{app_id}/perms", headers=auth(users["alice"]))
    assert listed.status_code == 200
    assert listed.json() == {"users": ["admin", "bob"]}


async def test_grant_gives_access(client, auth, users, app_id):
    assert (
        await client.get(f"/v2/apps/{app_id}/", headers=auth(users["carol"]))
    ).status_code == 403
    granted = await grant(client, auth(users["alice"]), app_id, "carol")
    assert granted.status_code == 201
    assert granted.content == b""
    assert (
        await client.get(f"/v2/apps/{app_id}/", headers=auth(users["carol"]))
    ).status_code == 200
    assert await collaborators(client, auth(users["carol"]), app_id) == ["bob", "carol"]


async def test_granting_twice_or_the_owner_changes_nothing(controller, client, auth, users, app_id):
    for username in ("bob", "alice"):
        assert (await grant(client, auth(users["alice"]), app_id, username)).status_code == 201
    assert await collaborators(client, auth(users["alice"]), app_id) == ["bob"]
    assert (await log_lines(controller, app_id)).count("alice granted bob") == 1


@pytest.mark.parametrize("username", ["nobody", None, 7])
async def test_granting_an_unknown_user_is_a_404(client, auth, users, app_id, username):
    missing = await grant(client, auth(users["alice"]), app_id, username)
    assert missing.status_code == 404
    assert missing.json() == "No User matches the given query."


async def test_revoke_removes_access(controller, client, auth, users, app_id):
    revoked = await client.delete(f"/v2/apps/{app_id}/perms/bob", headers=auth(users["alice"]))
    assert revoked.status_code == 204
    assert revoked.content == b""
    assert (await client.get(f"/v2/apps/{app_id}/", headers=auth(users["bob"]))).status_code == 403
    assert await collaborators(client, auth(users["alice"]), app_id) == []
    assert (await log_lines(controller, app_id))[-2:] == ["alice granted bob", "alice revoked bob"]


async def test_a_collaborator_may_revoke_themself_with_a_slash(client, auth, users, app_id):
    revoked = await client.delete(f"/v2/apps/{app_id}/perms/bob/", headers=auth(users["bob"]))
    assert revoked.status_code == 204
    assert await collaborators(client, auth(users["alice"]), app_id) == []


async def test_a_collaborator_may_not_revoke_another(client, auth, users, app_id):
    assert (await grant(client, auth(users["alice"]), app_id, "carol")).status_code == 201
    refused = await client.delete(f"/v2/apps/{app_id}/perms/carol", headers=auth(users["bob"]))
    assert refused.status_code == 403
    assert await collaborators(client, auth(users["alice"]), app_id) == ["bob", "carol"]


async def test_revoking_someone_without_the_perm_is_a_403(client, auth, users, app_id):
    for username in ("carol", "alice"):
        refused = await client.delete(
            f"/v2/apps/{app_id}/perms/{username}", headers=auth(users["alice"])
        )
        assert refused.status_code == 403
        assert refused.json() == {"detail": "You do not have permission to perform this action."}


async def test_revoking_an_unknown_user_is_a_404(client, auth, users, app_id):
    missing = await client.delete(f"/v2/apps/{app_id}/perms/nobody", headers=auth(users["alice"]))
    assert missing.status_code == 404
    assert missing.json() == "No User matches the given query."


async def test_a_username_outside_the_pattern_is_no_route(client, auth, users, app_id):
    missing = await client.delete(f"/v2/apps/{app_id}/perms/a.b@c", headers=auth(users["alice"]))
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("text/html")


async def test_an_unknown_app_is_a_404(client, auth, users):
    missing = await client.get("/v2/apps/nope/perms/", headers=auth(users["alice"]))
    assert missing.status_code == 404
    assert missing.json() == "No App matches the given query."


@pytest.mark.parametrize(
    ("role", "listed", "granted", "revoked_other", "revoked_self"),
    [
        ("anonymous", 401, 401, 401, 401),
        ("eve", 403, 403, 403, 403),
        ("bob", 200, 403, 403, 204),
        ("alice", 200, 201, 204, 403),
        ("admin", 200, 201, 204, 403),
    ],
)
async def test_who_may_do_what(
    client, auth, users, app_id, role, listed, granted, revoked_other, revoked_self
):
    """`revoked_self` is the caller revoking their own grant: only a collaborator holds one."""
    headers = {} if role == "anonymous" else auth(users[role])
    assert (await grant(client, auth(users["alice"]), app_id, "carol")).status_code == 201
    seen = await client.get(f"/v2/apps/{app_id}/perms/", headers=headers)
    added = await grant(client, headers, app_id, "eve")
    removed_other = await client.delete(f"/v2/apps/{app_id}/perms/carol", headers=headers)
    removed_self = await client.delete(f"/v2/apps/{app_id}/perms/{role}", headers=headers)
    assert (
        seen.status_code,
        added.status_code,
        removed_other.status_code,
        removed_self.status_code,
    ) == (listed, granted, revoked_other, revoked_self)
    remaining = await collaborators(client, auth(users["alice"]), app_id)
    assert ("eve" in remaining) == (granted == 201)
    assert ("carol" in remaining) == (revoked_other != 204)
