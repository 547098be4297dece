"""Certificates over HTTP (docs/api.md §2.8): upload, list, show, delete, attach and detach, who
sees what, the `routes` value of every app whose domains a change touches, and the checks of an
upload: hostile certificates and keys answered 4xx with the reason, nothing stored."""

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

CERT_FIELDS = {
    "id",
    "name",
    "common_name",
    "san",
    "fingerprint",
    "expires",
    "starts",
    "issuer",
    "subject",
    "domains",
    "owner",
    "created",
    "updated",
}

STARTS = datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
EXPIRES = datetime.datetime(2034, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)


def certificate(
    common_name: str | None = "example.com",
    san: list[str] | None = None,
    *,
    starts: datetime.datetime = STARTS,
    expires: datetime.datetime = EXPIRES,
) -> tuple[str, str, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    attributes = [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Deis"),
    ]
    if common_name is not None:
        attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    name = x509.Name(attributes)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(starts)
        .not_valid_after(expires)
    )
    if san:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(item) for item in san]), critical=False
        )
    cert = builder.sign(key, hashes.SHA256())
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode(), key_pem.decode(), cert


@pytest.fixture
async def users(register) -> dict[str, str]:
    """Tokens of an admin (registered first), alice, bob (alice's collaborator) and eve."""
    return {name: await register(name) for name in ("admin", "alice", "bob", "eve")}


@pytest.fixture
async def app_id(client: httpx.AsyncClient, auth, users: dict[str, str], unique: str) -> str:
    """An app of alice's, shared with bob, with the domains `www.example.com` and
    `api.example.com`."""
    headers = auth(users["alice"])
    assert (await client.post("/v2/apps/", json={"id": unique}, headers=headers)).is_success
    shared = await client.post(
        f"/v2/apps/{unique}/perms/", json={"username": "bob"}, headers=headers
    )
    assert shared.status_code == 201
    for domain in ("www.example.com", "api.example.com"):
        added = await client.post(
            f"/v2/apps/{unique}/domains/", json={"domain": domain}, headers=headers
        )
        assert added.status_code == 201
    return unique


async def upload(
    client: httpx.AsyncClient, headers: dict[str, str], name: str, overrides: Any = None
) -> httpx.Response:
    pem, key, _ = certificate()
    body = {"name": name, "certificate": pem, "key": key, **(overrides or {})}
    return await client.post("/v2/certs/", json=body, headers=headers)


async def attach(
    client: httpx.AsyncClient, headers: dict[str, str], name: str, domain: Any
) -> httpx.Response:
    return await client.post(f"/v2/certs/{name}/domain/", json={"domain": domain}, headers=headers)


async def routes_value(controller: FastAPI, app_id: str) -> dict[str, Any]:
    """The latest `routes` value the controller enqueued for the app."""
    async with controller.state.context.pool.acquire() as conn:
        payload = await conn.fetchval(
            "SELECT payload FROM outbox WHERE kind = 'kv_put' AND bucket = 'routes' AND key = $1"
            " ORDER BY seq DESC LIMIT 1",
            app_id,
        )
    value: dict[str, Any] = json.loads(payload)
    return value


async def log_lines(controller: FastAPI, app_id: str) -> list[str]:
    async with controller.state.context.pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT payload FROM outbox WHERE subject = $1 ORDER BY seq", f"deis.logs.{app_id}"
        )
    return [json.loads(row["payload"])["message"] for row in rows]


async def test_upload_answers_the_cert_object(client, auth, users):
    pem, key, cert = certificate("example.com", san=["example.com", "www.example.com"])
    created = await client.post(
        "/v2/certs/",
        json={"name": "example", "certificate": pem, "key": key, "common_name": "ignored"},
        headers=auth(users["alice"]),
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert set(body) == CERT_FIELDS
    assert isinstance(body["id"], int)
    assert body["name"] == "example"
    assert body["common_name"] == "example.com"
    assert body["san"] == ["example.com", "www.example.com"]
    assert body["fingerprint"] == cert.fingerprint(hashes.SHA256()).hex(":").upper()
    assert (body["starts"], body["expires"]) == ("2024-01-02T03:04:05Z", "2034-01-02T03:04:05Z")
    assert body["subject"] == body["issuer"] == "/C=US/O=Deis/CN=example.com"
    assert (body["domains"], body["owner"]) == ([], "alice")
    assert body["created"].endswith("Z")


async def test_a_certificate_without_common_name_shows_null(client, auth, users):
    pem, key, _ = certificate(None, san=["example.com"])
    created = await client.post(
        "/v2/certs/",
        json={"name": "nocn", "certificate": pem, "key": key},
        headers=auth(users["alice"]),
    )
    assert created.status_code == 201, created.text
    assert created.json()["common_name"] is None


@pytest.mark.parametrize(
    ("overrides", "errors"),
    [
        ({"name": "Bad_Name"}, {"name": ["Can only contain a-z (lowercase), 0-9 and hyphens"]}),
        ({"name": ""}, {"name": ["This field may not be blank."]}),
        ({"name": "a" * 254}, {"name": ["Ensure this field has no more than 253 characters."]}),
        ({"key": ""}, {"key": ["This field may not be blank."]}),
        ({"certificate": None}, {"certificate": ["This field may not be null."]}),
    ],
)
async def test_invalid_fields_are_refused(client, auth, users, overrides, errors):
    refused = await upload(client, auth(users["alice"]), "good", overrides)
    assert refused.status_code == 400
    assert refused.json() == errors


async def test_unloadable_pem_is_refused_with_every_problem(client, auth, users):
    refused = await client.post(
        "/v2/certs/",
        json={"name": "UPPER", "certificate": "not a certificate", "key": "x"},
        headers=auth(users["alice"]),
    )
    assert refused.status_code == 400
    body = refused.json()
    assert set(body) == {"name", "certificate", "key"}
    assert body["certificate"][0].startswith("Could not load certificate")
    assert body["key"][0].startswith("Could not load private key")


async def test_a_key_that_is_not_the_certificates_is_refused(client, auth, users):
    _, other_key, _ = certificate()
    refused = await upload(client, auth(users["alice"]), "mismatch", {"key": other_key})
    assert refused.status_code == 400
    [message] = refused.json()["key"]
    assert message.startswith("Could not load private key")


async def test_missing_fields_are_required(client, auth, users):
    refused = await client.post("/v2/certs/", json={}, headers=auth(users["alice"]))
    assert refused.json() == {
        "name": ["This field is required."],
        "certificate": ["This field is required."],
        "key": ["This field is required."],
    }


async def test_names_are_unique_across_users(client, auth, users):
    assert (await upload(client, auth(users["alice"]), "shared-name")).status_code == 201
    refused = await upload(client, auth(users["eve"]), "shared-name")
    assert refused.status_code == 400
    assert refused.json() == {"name": ["Certificate with this name already exists."]}


async def test_each_user_sees_only_their_own(client, auth, users):
    for name in ("zz", "aa"):
        assert (await upload(client, auth(users["alice"]), name)).status_code == 201
    assert (await upload(client, auth(users["admin"]), "admins")).status_code == 201
    mine = await client.get("/v2/certs/", headers=auth(users["alice"]))
    assert mine.status_code == 200
    assert mine.json()["count"] == 2
    assert [cert["name"] for cert in mine.json()["results"]] == ["aa", "zz"]
    page = await client.get("/v2/certs?limit=1", headers=auth(users["alice"]))
    assert page.json()["next"] is not None
    assert len(page.json()["results"]) == 1
    admins = await client.get("/v2/certs/", headers=auth(users["admin"]))
    assert [cert["name"] for cert in admins.json()["results"]] == ["admins"]
    for role in ("eve", "admin"):
        hidden = await client.get("/v2/certs/zz", headers=auth(users[role]))
        assert hidden.status_code == 404
        assert hidden.json() == "No Certificate matches the given query."
        kept = await client.delete("/v2/certs/zz", headers=auth(users[role]))
        assert kept.status_code == 404
    shown = await client.get("/v2/certs/zz/", headers=auth(users["alice"]))
    assert shown.status_code == 200
    assert shown.json()["name"] == "zz"


async def test_anonymous_is_401_everywhere(client):
    for method, path in [
        ("GET", "/v2/certs/"),
        ("POST", "/v2/certs/"),
        ("GET", "/v2/certs/x"),
        ("DELETE", "/v2/certs/x"),
        ("POST", "/v2/certs/x/domain/"),
        ("DELETE", "/v2/certs/x/domain/www.example.com"),
    ]:
        response = await client.request(method, path, json={})
        assert response.status_code == 401, (method, path)


async def test_put_is_not_allowed(client, auth, users):
    refused = await client.put("/v2/certs/", json={}, headers=auth(users["alice"]))
    assert refused.status_code == 405


async def test_attach_and_detach_change_the_routes(controller, client, auth, users, app_id):
    headers = auth(users["alice"])
    pem, key, _ = certificate("www.example.com")
    body = {"name": "www", "certificate": pem, "key": key}
    assert (await client.post("/v2/certs/", json=body, headers=headers)).status_code == 201
    attached = await attach(client, headers, "www", "www.example.com")
    assert attached.status_code == 201
    assert attached.content == b""
    assert (await attach(client, headers, "www", "api.example.com")).status_code == 201
    shown = await client.get("/v2/certs/www", headers=headers)
    assert shown.json()["domains"] == ["api.example.com", "www.example.com"]
    [served] = (await routes_value(controller, app_id))["certificates"]
    assert served == {
        "name": "www",
        "domains": ["api.example.com", "www.example.com"],
        "certificate": pem,
        "key": key,
    }
    detached = await client.delete("/v2/certs/www/domain/api.example.com", headers=headers)
    assert detached.status_code == 204
    [served] = (await routes_value(controller, app_id))["certificates"]
    assert served["domains"] == ["www.example.com"]
    lines = await log_lines(controller, app_id)
    assert "alice attached certificate www to www.example.com" in lines
    assert "alice detached certificate www from api.example.com" in lines


async def test_attach_to_a_domain_given_in_unicode(controller, client, auth, users, app_id):
    headers = auth(users["alice"])
    added = await client.post(
        f"/v2/apps/{app_id}/domains/", json={"domain": "bücher.example"}, headers=headers
    )
    assert added.status_code == 201
    assert (await upload(client, headers, "idn")).status_code == 201
    assert (await attach(client, headers, "idn", "bücher.example")).status_code == 201
    [served] = (await routes_value(controller, app_id))["certificates"]
    assert served["domains"] == ["xn--bcher-kva.example"]


async def test_attach_with_the_domain_in_the_url(client, auth, users, app_id):
    headers = auth(users["alice"])
    assert (await upload(client, headers, "inurl")).status_code == 201
    attached = await client.post("/v2/certs/inurl/domain/www.example.com", headers=headers)
    assert attached.status_code == 201
    shown = await client.get("/v2/certs/inurl", headers=headers)
    assert shown.json()["domains"] == ["www.example.com"]


async def test_attach_refusals(client, auth, users, app_id):
    headers = auth(users["alice"])
    for name in ("first", "second"):
        assert (await upload(client, headers, name)).status_code == 201
    missing_field = await client.post("/v2/certs/first/domain/", json={}, headers=headers)
    assert missing_field.status_code == 400
    assert missing_field.json() == {"detail": "domain is a required field"}
    unknown_domain = await attach(client, headers, "first", "nope.example.com")
    assert unknown_domain.status_code == 404
    assert unknown_domain.json() == "No Domain matches the given query."
    unknown_cert = await attach(client, headers, "nope", "www.example.com")
    assert unknown_cert.json() == "No Certificate matches the given query."
    assert (await attach(client, headers, "first", "www.example.com")).status_code == 201
    for name in ("first", "second"):
        taken = await attach(client, headers, name, "www.example.com")
        assert taken.status_code == 409
        assert taken.json() == {"detail": "Domain already has a certificate attached to it"}
    others = await attach(client, auth(users["eve"]), "second", "api.example.com")
    assert others.status_code == 404
    assert others.json() == "No Certificate matches the given query."


async def test_any_user_may_attach_their_certificate_to_any_free_domain(
    controller, client, auth, users, app_id
):
    """Upstream checks the certificate's owner only, not the domain's app (docs/api.md §2.8)."""
    assert (await upload(client, auth(users["eve"]), "eves")).status_code == 201
    attached = await attach(client, auth(users["eve"]), "eves", "api.example.com")
    assert attached.status_code == 201
    [served] = (await routes_value(controller, app_id))["certificates"]
    assert served["name"] == "eves"


async def test_detach_refusals(controller, client, auth, users, app_id):
    headers = auth(users["alice"])
    for name in ("mine", "idle"):
        assert (await upload(client, headers, name)).status_code == 201
    assert (await attach(client, headers, "mine", "www.example.com")).status_code == 201
    unknown = await client.delete("/v2/certs/mine/domain/nope.example.com", headers=headers)
    assert unknown.status_code == 404
    assert unknown.json() == "No Domain matches the given query."
    slashed = await client.delete("/v2/certs/mine/domain/www.example.com/", headers=headers)
    assert slashed.status_code == 404
    not_its_domain = await client.delete("/v2/certs/idle/domain/www.example.com", headers=headers)
    assert not_its_domain.status_code == 404
    not_yours = await client.delete(
        "/v2/certs/mine/domain/www.example.com", headers=auth(users["eve"])
    )
    assert not_yours.status_code == 404
    [served] = (await routes_value(controller, app_id))["certificates"]
    assert served["domains"] == ["www.example.com"]
    bare = await client.delete("/v2/certs/idle/domain/api.example.com", headers=headers)
    assert bare.status_code == 204


async def test_delete_detaches_from_every_app(controller, client, auth, users, app_id, unique):
    other = f"{unique}-b"
    headers = auth(users["alice"])
    assert (await client.post("/v2/apps/", json={"id": other}, headers=headers)).is_success
    added = await client.post(
        f"/v2/apps/{other}/domains/", json={"domain": "other.example.com"}, headers=headers
    )
    assert added.status_code == 201
    assert (await upload(client, headers, "wide")).status_code == 201
    for domain in ("www.example.com", "other.example.com"):
        assert (await attach(client, headers, "wide", domain)).status_code == 201
    assert (await routes_value(controller, other))["certificates"] != []
    deleted = await client.delete("/v2/certs/wide/", headers=headers)
    assert deleted.status_code == 204
    for app in (app_id, other):
        assert (await routes_value(controller, app))["certificates"] == []
    assert (await client.get("/v2/certs/wide", headers=headers)).status_code == 404
    assert "alice detached certificate wide from other.example.com" in await log_lines(
        controller, other
    )
    again = await upload(client, headers, "second")
    assert again.status_code == 201
    assert (await attach(client, headers, "second", "www.example.com")).status_code == 201


@pytest.mark.parametrize("role", ["eve", "bob", "alice", "admin"])
async def test_every_user_manages_their_own(client, auth, users, role):
    headers = auth(users[role])
    assert (await upload(client, headers, f"own-{role}")).status_code == 201
    assert (await client.get("/v2/certs/", headers=headers)).json()["count"] == 1
    assert (await client.get(f"/v2/certs/own-{role}", headers=headers)).status_code == 200
    assert (await client.delete(f"/v2/certs/own-{role}", headers=headers)).status_code == 204
    assert (await client.get("/v2/certs/", headers=headers)).json()["count"] == 0


# The checks of an upload


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC).replace(microsecond=0)


def _hostile_uploads() -> list[Any]:
    """(id, certificate, key, field at fault, what its message holds)."""
    pem, key, _ = certificate()
    other_pem, other_key, _ = certificate("other.example")
    day = datetime.timedelta(days=1)
    expired, expired_key, _ = certificate(starts=_now() - 9 * day, expires=_now() - day)
    future, future_key, _ = certificate(starts=_now() + day, expires=_now() + 9 * day)
    encrypted = (
        ec.generate_private_key(ec.SECP256R1())
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret"),
        )
        .decode()
    )
    return [
        pytest.param(expired, expired_key, "certificate", "Certificate has expired", id="expired"),
        pytest.param(future, future_key, "certificate", "not valid yet", id="not-yet-valid"),
        pytest.param(pem, other_key, "key", "does not match the certificate", id="other-key"),
        pytest.param("junk\n" + pem, key, "certificate", "before the first", id="junk-before"),
        pytest.param(pem + "junk\n" + other_pem, key, "certificate", "between", id="junk-between"),
        pytest.param(pem + "A" * 60_000, key, "certificate", "after the last", id="junk-after"),
        pytest.param(pem, key + "junk", "key", "after the last", id="junk-after-key"),
        pytest.param(pem + key, key, "certificate", "PRIVATE KEY block", id="key-in-chain"),
        pytest.param(pem, key + other_key, "key", "one private key block", id="two-keys"),
        pytest.param(pem, encrypted, "key", "encrypted", id="encrypted-key"),
        pytest.param(pem, pem, "key", "CERTIFICATE block", id="certificate-as-key"),
        pytest.param(pem + "é", key, "certificate", "not ASCII", id="non-ascii"),
        pytest.param(pem + "\x01", key, "certificate", "after the last", id="control-char"),
        pytest.param(pem + " " * 70_000, key, "certificate", "no more than 65536", id="too-long"),
        pytest.param(pem, key + " " * 17_000, "key", "no more than 16384", id="key-too-long"),
        pytest.param(
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----",
            key,
            "certificate",
            "Could not load certificate",
            id="not-der",
        ),
    ]


async def _own_certs(client: httpx.AsyncClient, headers: dict[str, str]) -> list[str]:
    listed = await client.get("/v2/certs/", headers=headers)
    assert listed.status_code == 200
    return [cert["name"] for cert in listed.json()["results"]]


@pytest.mark.parametrize(("pem", "key", "field", "reason"), _hostile_uploads())
async def test_a_hostile_upload_is_refused_with_the_reason(
    controller, client, auth, register, pem, key, field, reason
):
    headers = auth(await register("alice"))
    body = {"name": "hostile", "certificate": pem, "key": key}

    refused = await client.post("/v2/certs/", json=body, headers=headers)

    assert refused.status_code == 400, refused.text
    [message] = refused.json()[field]
    assert reason in message
    assert await _own_certs(client, headers) == []
    async with controller.state.context.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM certificates") == 0


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"certificate": "", "key": ""}, id="empty"),
        pytest.param({"certificate": "   \n", "key": "\t"}, id="blank"),
        pytest.param({"certificate": "\x00", "key": "\x00"}, id="nul"),
        pytest.param({"certificate": "\ud800", "key": "x"}, id="lone-surrogate"),
        pytest.param({"certificate": ["a"], "key": {"b": 1}}, id="not-strings"),
        pytest.param({"certificate": "A" * (10 << 20), "key": "x"}, id="10-mib"),
    ],
)
async def test_malformed_fields_are_a_clean_4xx(controller, client, auth, register, body):
    headers = auth(await register("alice"))

    raw = json.dumps({"name": "bad", **body})  # ASCII, so a lone surrogate goes as `\\ud800`

    refused = await client.post("/v2/certs/", content=raw, headers=headers)

    assert 400 <= refused.status_code < 500, refused.text
    assert isinstance(refused.json(), dict)
    assert await _own_certs(client, headers) == []


async def test_every_problem_is_answered_at_once(client, auth, register):
    pem, key, _ = certificate(
        starts=_now() - datetime.timedelta(days=9), expires=_now() - datetime.timedelta(days=1)
    )
    body = {"name": "Bad_Name", "certificate": pem, "key": key + "junk"}

    refused = await client.post("/v2/certs/", json=body, headers=auth(await register("alice")))

    assert refused.status_code == 400
    assert set(refused.json()) == {"name", "certificate", "key"}


async def test_a_chain_is_accepted(client, auth, register):
    pem, key, cert = certificate("www.example.com")
    intermediate, _, _ = certificate("Example Intermediate CA")
    body = {"name": "chained", "certificate": f"{pem}\n{intermediate}\n", "key": key}

    created = await client.post("/v2/certs/", json=body, headers=auth(await register("alice")))

    assert created.status_code == 201, created.text
    assert created.json()["common_name"] == "www.example.com"
    assert created.json()["fingerprint"] == cert.fingerprint(hashes.SHA256()).hex(":").upper()


async def test_a_certificate_expiring_soon_is_accepted_with_its_expiry(client, auth, register):
    headers = auth(await register("alice"))
    expires = _now() + datetime.timedelta(days=10, hours=1)
    pem, key, _ = certificate(starts=_now() - datetime.timedelta(days=80), expires=expires)

    created = await upload_pair(client, headers, "soon", pem, key)

    assert created.status_code == 201, created.text
    shown_expiry = expires.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert created.json()["expires"] == shown_expiry
    assert set(created.json()) == CERT_FIELDS
    warning = f'299 - "Certificate expires in 10 days, at {shown_expiry}"'
    assert created.headers["Warning"] == warning
    shown = await client.get("/v2/certs/soon", headers=headers)
    assert (shown.json()["expires"], shown.headers["Warning"]) == (shown_expiry, warning)
    listed = await client.get("/v2/certs/", headers=headers)
    assert listed.json()["results"][0]["expires"] == shown_expiry


async def test_a_long_lived_certificate_has_no_warning(client, auth, register):
    headers = auth(await register("alice"))
    pem, key, _ = certificate()

    created = await upload_pair(client, headers, "later", pem, key)

    assert created.status_code == 201
    assert "Warning" not in created.headers
    assert "Warning" not in (await client.get("/v2/certs/later", headers=headers)).headers


async def upload_pair(
    client: httpx.AsyncClient, headers: dict[str, str], name: str, pem: str, key: str
) -> httpx.Response:
    body = {"name": name, "certificate": pem, "key": key}
    return await client.post("/v2/certs/", json=body, headers=headers)
