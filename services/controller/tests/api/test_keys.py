"""SSH keys over HTTP (docs/api.md §2.10): add, list, show, remove; validation, global uniqueness of
ids and keys, each user seeing only their own, and ids running to the end of the URL."""

import base64
import hashlib

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

KEY_FIELDS = {"uuid", "id", "owner", "public", "fingerprint", "created", "updated"}


def ed25519_key(comment: str = "me@host") -> str:
    raw = (
        ed25519.Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    )
    return f"{raw.decode()} {comment}"


def md5_of(public: str) -> str:
    return hashlib.md5(base64.b64decode(public.split()[1])).digest().hex(":")


@pytest.fixture
async def users(register) -> dict[str, str]:
    """Tokens of an admin (registered first), alice and eve."""
    return {name: await register(name) for name in ("admin", "alice", "eve")}


async def add(client: httpx.AsyncClient, headers: dict[str, str], key_id, public) -> httpx.Response:
    return await client.post("/v2/keys/", json={"id": key_id, "public": public}, headers=headers)


async def test_add_answers_the_key_object(client, auth, users):
    public = ed25519_key()
    created = await add(client, auth(users["alice"]), "laptop", f"  {public}\n")
    assert created.status_code == 201, created.text
    body = created.json()
    assert set(body) == KEY_FIELDS
    assert (body["id"], body["owner"], body["public"]) == ("laptop", "alice", public)
    assert body["fingerprint"] == md5_of(public)
    assert body["created"].endswith("Z")
    shown = await client.get("/v2/keys/laptop", headers=auth(users["alice"]))
    assert shown.status_code == 200
    assert shown.json() == body


@pytest.mark.parametrize(
    "make",
    [
        lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key(),
        lambda: ec.generate_private_key(ec.SECP256R1()).public_key(),
    ],
    ids=["rsa", "ecdsa"],
)
async def test_rsa_and_ecdsa_keys_are_accepted(client, auth, users, make):
    public = (
        make()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
    )
    created = await add(client, auth(users["alice"]), "other", public)
    assert created.status_code == 201, created.text
    assert created.json()["fingerprint"] == md5_of(public)


BLANK = "This field may not be blank."
REQUIRED = "This field is required."


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        (
            {"id": "k", "public": "ssh-rsa not!base64"},
            {"public": ["Key contains invalid base64 chars"]},
        ),
        ({"id": "k", "public": ""}, {"public": [BLANK]}),
        ({"id": "", "public": None}, {"id": [BLANK], "public": ["This field may not be null."]}),
        (
            {"id": "k" * 129},
            {"id": ["Ensure this field has no more than 128 characters."], "public": [REQUIRED]},
        ),
        ({}, {"id": [REQUIRED], "public": [REQUIRED]}),
    ],
)
async def test_invalid_keys_are_refused(client, auth, users, body, errors):
    refused = await client.post("/v2/keys/", json=body, headers=auth(users["alice"]))
    assert refused.status_code == 400
    assert refused.json() == errors


async def test_keys_and_ids_are_unique_across_users(client, auth, users):
    public = ed25519_key("first")
    assert (await add(client, auth(users["alice"]), "shared", public)).status_code == 201
    same_blob = public.rsplit(" ", 1)[0] + " another-comment"
    refused = await add(client, auth(users["eve"]), "eves", same_blob)
    assert refused.status_code == 400
    assert refused.json() == {"public": ["Public Key is already in use"]}
    refused = await add(client, auth(users["eve"]), "shared", ed25519_key())
    assert refused.json() == {"id": ["SSH Key with this id already exists."]}
    both = await add(client, auth(users["alice"]), "shared", public)
    assert both.json() == {
        "id": ["SSH Key with this id already exists."],
        "public": ["Public Key is already in use"],
    }


async def test_each_user_lists_only_their_own_by_public_text(client, auth, users):
    publics = [ed25519_key(f"k{i}") for i in range(3)]
    for index, public in enumerate(publics):
        assert (await add(client, auth(users["alice"]), f"k{index}", public)).status_code == 201
    assert (await add(client, auth(users["admin"]), "admins", ed25519_key())).status_code == 201
    listed = await client.get("/v2/keys/", headers=auth(users["alice"]))
    assert listed.status_code == 200
    body = listed.json()
    assert body["count"] == 3
    assert [key["public"] for key in body["results"]] == sorted(publics)
    page = await client.get("/v2/keys?limit=2", headers=auth(users["alice"]))
    assert len(page.json()["results"]) == 2
    assert page.json()["next"] is not None
    admins = await client.get("/v2/keys/", headers=auth(users["admin"]))
    assert [key["id"] for key in admins.json()["results"]] == ["admins"]


async def test_someone_elses_key_is_a_404(client, auth, users):
    assert (await add(client, auth(users["alice"]), "mine", ed25519_key())).status_code == 201
    for role in ("eve", "admin"):
        for method in ("GET", "DELETE"):
            hidden = await client.request(method, "/v2/keys/mine", headers=auth(users[role]))
            assert hidden.status_code == 404
            assert hidden.json() == "No Key matches the given query."
    assert (await client.get("/v2/keys/mine", headers=auth(users["alice"]))).status_code == 200


async def test_remove(client, auth, users):
    assert (await add(client, auth(users["alice"]), "gone", ed25519_key())).status_code == 201
    removed = await client.delete("/v2/keys/gone", headers=auth(users["alice"]))
    assert removed.status_code == 204
    assert removed.content == b""
    again = await client.delete("/v2/keys/gone", headers=auth(users["alice"]))
    assert again.status_code == 404
    assert again.json() == "No Key matches the given query."


async def test_the_id_runs_to_the_end_of_the_url(client, auth, users):
    headers = auth(users["alice"])
    assert (await add(client, headers, "me@host.local", ed25519_key())).status_code == 201
    assert (await client.get("/v2/keys/me@host.local", headers=headers)).status_code == 200
    slashed = await client.get("/v2/keys/me@host.local/", headers=headers)
    assert slashed.status_code == 404
    assert slashed.json() == "No Key matches the given query."
    assert (await add(client, headers, "with/slash/", ed25519_key())).status_code == 201
    shown = await client.get("/v2/keys/with/slash/", headers=headers)
    assert shown.status_code == 200
    assert shown.json()["id"] == "with/slash/"
    assert (await client.delete("/v2/keys/with/slash/", headers=headers)).status_code == 204


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/v2/keys/"), ("POST", "/v2/keys/"), ("GET", "/v2/keys/x"), ("DELETE", "/v2/keys/x")],
)
async def test_anonymous_is_401(client, method, path):
    response = await client.request(method, path, json={"id": "x", "public": ed25519_key()})
    assert response.status_code == 401


@pytest.mark.parametrize("role", ["admin", "alice", "eve"])
async def test_every_user_manages_their_own(client, auth, users, role):
    headers = auth(users[role])
    assert (await add(client, headers, f"own-{role}", ed25519_key())).status_code == 201
    assert (await client.get("/v2/keys", headers=headers)).json()["count"] == 1
    assert (await client.get(f"/v2/keys/own-{role}", headers=headers)).status_code == 200
    assert (await client.delete(f"/v2/keys/own-{role}", headers=headers)).status_code == 204
    assert (await client.get("/v2/keys/", headers=headers)).json()["count"] == 0
