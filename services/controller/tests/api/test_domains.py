"""Domains over HTTP (docs/api.md §2.7): list, add, remove, validation, global uniqueness, who may
do what, and the `routes` value and log lines each change sends through the outbox."""

import datetime
import json
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from fastapi import FastAPI

DOMAIN_FIELDS = {"owner", "app", "domain", "created", "updated"}


@pytest.fixture
async def users(register) -> dict[str, str]:
    """Tokens of an admin (registered first), the owner, a collaborator and a stranger."""
    return {name: await register(name) for name in ("admin", "alice", "bob", "eve")}


@pytest.fixture
async def app_id(client: httpx.AsyncClient, auth, users: dict[str, str], unique: str) -> str:
    """An app of alice's, shared with bob."""
    created = await client.post("/v2/apps/", json={"id": unique}, headers=auth(users["alice"]))
    assert created.status_code == 201, created.text
    shared = await client.post(
        f"/v2/apps/{unique}/perms/", json={"username": "bob"}, headers=auth(users["alice"])
    )
    assert shared.status_code == 201, shared.text
    return unique


async def routes_value(controller: FastAPI, app_id: str) -> dict[str, Any]:
    """The latest `routes` value the controller enqueued for the app."""
    async with controller.state.context.pool.acquire() as conn:
        payload = await conn.fetchval(
            "SELECT payload FROM outbox WHERE kind = 'kv_put' AND bucket = 'routes' AND key = $1"
            " ORDER BY seq DESC LIMIT 1",
            app_id,
        )
    assert payload is not None
    value: dict[str, Any] = json.loads(payload)
    return value


async def log_lines(controller: FastAPI, app_id: str) -> list[str]:
    async with controller.state.context.pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT payload FROM outbox WHERE subject = $1 ORDER BY seq", f"deis.logs.{app_id}"
        )
    return [json.loads(row["payload"])["message"] for row in rows]


def certificate(common_name: str) -> tuple[str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode(), key_pem.decode()


async def add(
    client: httpx.AsyncClient, headers: dict[str, str], app_id: str, domain: Any
) -> httpx.Response:
    return await client.post(
        f"/v2/apps/{app_id}/domains/", json={"domain": domain}, headers=headers
    )


async def listed(client, headers, app_id: str) -> list[str]:
    response = await client.get(f"/v2/apps/{app_id}/domains/", headers=headers)
    assert response.status_code == 200, response.text
    return [item["domain"] for item in response.json()["results"]]


async def test_a_fresh_app_has_its_id_as_domain(client, auth, users, app_id):
    response = await client.get(f"/v2/apps/{app_id}/domains", headers=auth(users["alice"]))
    assert response.status_code == 200
    body = response.json()
    assert (body["count"], body["next"], body["previous"]) == (1, None, None)
    [domain] = body["results"]
    assert set(domain) == DOMAIN_FIELDS
    assert (domain["domain"], domain["app"], domain["owner"]) == (app_id, app_id, "alice")


async def test_add_answers_the_domain_object_and_the_list_is_sorted_and_paginated(
    client, auth, users, app_id
):
    created = await add(client, auth(users["alice"]), app_id, "zeta.example.com")
    assert created.status_code == 201, created.text
    body = created.json()
    assert set(body) == DOMAIN_FIELDS
    assert (body["domain"], body["app"], body["owner"]) == ("zeta.example.com", app_id, "alice")
    assert body["created"].endswith("Z")
    assert (await add(client, auth(users["alice"]), app_id, "alpha.example.com")).status_code == 201
    assert await listed(client, auth(users["alice"]), app_id) == sorted(
        [app_id, "alpha.example.com", "zeta.example.com"]
    )
    page = await client.get(
        f"/v2/apps/{app_id}/domains/?limit=1&offset=1", headers=auth(users["alice"])
    )
    assert page.json()["count"] == 3
    assert page.json()["next"] is not None
    assert page.json()["previous"] is not None
    assert len(page.json()["results"]) == 1


async def test_the_adder_owns_the_domain(client, auth, users, app_id):
    created = await add(client, auth(users["bob"]), app_id, "bob.example.com")
    assert created.status_code == 201
    assert created.json()["owner"] == "bob"


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("MYDOMAIN.NET", "mydomain.net"),
        ("bücher.example", "xn--bcher-kva.example"),
        ("trailing.example.com.", "trailing.example.com"),
        ("*.deis.example.com", "*.deis.example.com"),
        ("3com.com", "3com.com"),
        ("autotest.127.0.0.1.xip.io", "autotest.127.0.0.1.xip.io"),
        ("django.paas-sandbox", "django.paas-sandbox"),
        ("  spaced.example.com  ", "spaced.example.com"),
    ],
)
async def test_domains_are_stored_in_ace_form(client, auth, users, app_id, sent, stored):
    created = await add(client, auth(users["alice"]), app_id, sent)
    assert created.status_code == 201, created.text
    assert created.json()["domain"] == stored


@pytest.mark.parametrize(
    ("sent", "message"),
    [
        ("*", "Hostname can't only be a wildcard"),
        ("this-is-an.invalid.1", "Hostname does not look valid."),
        ("foo.*.bar.com", "Hostname does not look valid."),
        ("", "This field may not be blank."),
        (None, "This field may not be null."),
        (5, "Not a valid string."),
    ],
)
async def test_invalid_domains_are_refused(client, auth, users, app_id, sent, message):
    refused = await add(client, auth(users["alice"]), app_id, sent)
    assert refused.status_code == 400
    assert refused.json() == {"domain": [message]}


@pytest.mark.parametrize(
    "sent", ["this_is_an.invalid.domain", "django.pa--assandbox", "a" * 64 + ".com"]
)
async def test_labels_that_do_not_encode_are_refused(client, auth, users, app_id, sent):
    refused = await add(client, auth(users["alice"]), app_id, sent)
    assert refused.status_code == 400
    [message] = refused.json()["domain"]
    assert message.startswith("Hostname does not look valid, could not convert to ACE")


async def test_too_long_domains_are_refused(client, auth, users, app_id):
    refused = await add(client, auth(users["alice"]), app_id, ".".join(["a" * 60] * 5))
    assert refused.json() == {"domain": ["Hostname must be 253 characters or less."]}


async def test_a_missing_field_is_required(client, auth, users, app_id):
    refused = await client.post(
        f"/v2/apps/{app_id}/domains/", json={}, headers=auth(users["alice"])
    )
    assert refused.json() == {"domain": ["This field is required."]}


async def test_domains_are_unique_across_apps(client, auth, users, app_id, unique):
    other = f"{unique}-x"
    created = await client.post("/v2/apps/", json={"id": other}, headers=auth(users["eve"]))
    assert created.status_code == 201
    assert (await add(client, auth(users["alice"]), app_id, "bücher.example")).status_code == 201
    exact = await add(client, auth(users["eve"]), other, "xn--bcher-kva.example")
    assert exact.status_code == 400
    assert exact.json() == {"domain": ["Domain is already in use by another application"]}
    unicode = await add(client, auth(users["eve"]), other, "Bücher.example.")
    assert unicode.json() == {
        "domain": ["The domain Bücher.example is already in use by another app"]
    }
    same_app = await add(client, auth(users["alice"]), app_id, app_id)
    assert same_app.json() == {"domain": ["Domain is already in use by another application"]}
    assert await listed(client, auth(users["eve"]), other) == [other]


@pytest.mark.parametrize("path_form", ["bücher.example", "xn--bcher-kva.example"])
@pytest.mark.parametrize("slash", ["", "/"])
async def test_remove_takes_either_form_and_an_optional_slash(
    client, auth, users, app_id, path_form, slash
):
    assert (await add(client, auth(users["alice"]), app_id, "bücher.example")).status_code == 201
    removed = await client.delete(
        f"/v2/apps/{app_id}/domains/{path_form}{slash}", headers=auth(users["alice"])
    )
    assert removed.status_code == 204, removed.text
    assert removed.content == b""
    assert await listed(client, auth(users["alice"]), app_id) == [app_id]


async def test_remove_a_wildcard(client, auth, users, app_id):
    assert (await add(client, auth(users["alice"]), app_id, "*.example.org")).status_code == 201
    removed = await client.delete(
        f"/v2/apps/{app_id}/domains/*.example.org", headers=auth(users["alice"])
    )
    assert removed.status_code == 204
    assert await listed(client, auth(users["alice"]), app_id) == [app_id]


async def test_remove_an_unknown_domain_is_a_bare_404(client, auth, users, app_id):
    missing = await client.delete(
        f"/v2/apps/{app_id}/domains/nope.example.com", headers=auth(users["alice"])
    )
    assert missing.status_code == 404
    assert missing.json() == "No Domain matches the given query."


async def test_remove_only_looks_in_the_app(client, auth, users, app_id, unique):
    other = f"{unique}-y"
    assert (
        await client.post("/v2/apps/", json={"id": other}, headers=auth(users["eve"]))
    ).is_success
    missing = await client.delete(
        f"/v2/apps/{app_id}/domains/{other}", headers=auth(users["alice"])
    )
    assert missing.status_code == 404
    assert await listed(client, auth(users["eve"]), other) == [other]


async def test_a_segment_outside_the_pattern_is_no_route(client, auth, users, app_id):
    missing = await client.delete(
        f"/v2/apps/{app_id}/domains/foo@bar.com", headers=auth(users["alice"])
    )
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize(
    ("role", "listed_status", "added_status", "removed_status"),
    [
        ("anonymous", 401, 401, 401),
        ("eve", 403, 403, 403),
        ("bob", 200, 201, 403),
        ("alice", 200, 201, 204),
        ("admin", 200, 201, 204),
    ],
)
async def test_who_may_do_what(
    client, auth, users, app_id, role, listed_status, added_status, removed_status
):
    headers = {} if role == "anonymous" else auth(users[role])
    assert (await add(client, auth(users["alice"]), app_id, "victim.example.com")).is_success
    seen = await client.get(f"/v2/apps/{app_id}/domains/", headers=headers)
    added = await add(client, headers, app_id, f"{role}.example.com")
    removed = await client.delete(f"/v2/apps/{app_id}/domains/victim.example.com", headers=headers)
    assert (seen.status_code, added.status_code, removed.status_code) == (
        listed_status,
        added_status,
        removed_status,
    )
    remaining = await listed(client, auth(users["alice"]), app_id)
    assert ("victim.example.com" in remaining) == (removed_status != 204)


async def test_an_unknown_app_is_a_404(client, auth, users):
    missing = await client.get("/v2/apps/nope/domains/", headers=auth(users["alice"]))
    assert missing.status_code == 404
    assert missing.json() == "No App matches the given query."


async def test_every_change_sends_routes_and_a_log_line(controller, client, auth, users, app_id):
    assert (await routes_value(controller, app_id))["domains"] == [app_id]
    assert (await add(client, auth(users["alice"]), app_id, "bücher.example")).is_success
    routes = await routes_value(controller, app_id)
    assert routes["domains"] == sorted([app_id, "xn--bcher-kva.example"])
    assert routes["certificates"] == []
    removed = await client.delete(
        f"/v2/apps/{app_id}/domains/xn--bcher-kva.example", headers=auth(users["alice"])
    )
    assert removed.status_code == 204
    assert (await routes_value(controller, app_id))["domains"] == [app_id]
    lines = await log_lines(controller, app_id)
    assert "alice added domain xn--bcher-kva.example" in lines
    assert "alice removed domain xn--bcher-kva.example" in lines


async def test_a_refused_add_sends_nothing(controller, client, auth, users, app_id):
    before = await routes_value(controller, app_id)
    assert (await add(client, auth(users["alice"]), app_id, "*")).status_code == 400
    assert await routes_value(controller, app_id) == before


async def test_removing_a_domain_detaches_its_certificate(controller, client, auth, users, app_id):
    assert (await add(client, auth(users["alice"]), app_id, "secure.example.com")).is_success
    pem, key = certificate("secure.example.com")
    uploaded = await client.post(
        "/v2/certs/",
        json={"name": "secure", "certificate": pem, "key": key},
        headers=auth(users["alice"]),
    )
    assert uploaded.status_code == 201, uploaded.text
    attached = await client.post(
        "/v2/certs/secure/domain/",
        json={"domain": "secure.example.com"},
        headers=auth(users["alice"]),
    )
    assert attached.status_code == 201
    [served] = (await routes_value(controller, app_id))["certificates"]
    assert served["domains"] == ["secure.example.com"]
    removed = await client.delete(
        f"/v2/apps/{app_id}/domains/secure.example.com", headers=auth(users["alice"])
    )
    assert removed.status_code == 204
    routes = await routes_value(controller, app_id)
    assert routes["certificates"] == []
    assert "secure.example.com" not in routes["domains"]
    shown = await client.get("/v2/certs/secure", headers=auth(users["alice"]))
    assert shown.json()["domains"] == []
