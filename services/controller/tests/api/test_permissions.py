"""The permission matrix: every route and method, for anonymous, other user, collaborator, owner
and admin, with the exact status each must get (docs/api.md §1.7 and the "Who" column of §2).

Each case runs every role against its own fresh app (created by the owner, shared with the
collaborator, and prepared by the case's `setup`), so that one role's success cannot change what
the next role sees. Expected statuses are those of a request that is otherwise valid: a role
that is allowed gets the route's success status (or the status the platform's state dictates,
such as 503 for `run` while no scheduler answers, spelled out per case).
"""

import datetime
import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import NameOID

ROLES = ("anonymous", "other", "collaborator", "owner", "admin")

_counter = itertools.count()


def fresh(prefix: str) -> str:
    return f"{prefix}{next(_counter)}"


def public_key() -> str:
    key = ed25519.Ed25519PrivateKey.generate().public_key()
    raw = key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return raw.decode() + " perm@test"


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
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(common_name)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return pem, key_pem


@dataclass
class World:
    client: httpx.AsyncClient
    tokens: dict[str, str]

    def headers(self, role: str) -> dict[str, str]:
        if role == "anonymous":
            return {}
        return {"Authorization": f"token {self.tokens[role]}"}

    async def call(self, role: str, method: str, path: str, body: Any = None) -> httpx.Response:
        return await self.client.request(method, path, json=body, headers=self.headers(role))

    async def ok(self, role: str, method: str, path: str, body: Any = None) -> httpx.Response:
        response = await self.call(role, method, path, body)
        assert response.status_code < 300, (method, path, response.status_code, response.text)
        return response


Setup = Callable[[World, dict[str, str]], Awaitable[None]]


async def no_setup(world: World, ctx: dict[str, str]) -> None:
    del world, ctx


async def with_build(world: World, ctx: dict[str, str]) -> None:
    await world.ok(
        "owner",
        "POST",
        f"/v2/apps/{ctx['app']}/builds/",
        {"image": "example/app", "procfile": {"web": "python app.py", "worker": "python w.py"}},
    )


async def with_two_builds(world: World, ctx: dict[str, str]) -> None:
    await with_build(world, ctx)
    await world.ok("owner", "POST", f"/v2/apps/{ctx['app']}/builds/", {"image": "example/v2"})


async def with_domain(world: World, ctx: dict[str, str]) -> None:
    ctx["domain"] = f"{ctx['app']}.example.com"
    await world.ok("owner", "POST", f"/v2/apps/{ctx['app']}/domains/", {"domain": ctx["domain"]})


async def with_address(world: World, ctx: dict[str, str]) -> None:
    await world.ok(
        "owner", "POST", f"/v2/apps/{ctx['app']}/whitelist/", {"addresses": ["10.1.2.3"]}
    )


async def with_admin_to_revoke(world: World, ctx: dict[str, str]) -> None:
    ctx["victim"] = fresh("victim")
    await world.ok(
        "anonymous", "POST", "/v2/auth/register/", {"username": ctx["victim"], "password": "pw"}
    )
    await world.ok("admin", "POST", "/v2/admin/perms/", {"username": ctx["victim"]})


async def with_own_key(world: World, ctx: dict[str, str]) -> None:
    """Every authenticated role adds a key of its own named after the role."""
    for role in ROLES[1:]:
        name = f"{ctx['app']}-{role}"
        await world.ok(role, "POST", "/v2/keys/", {"id": name, "public": public_key()})


async def with_own_cert(world: World, ctx: dict[str, str]) -> None:
    for role in ROLES[1:]:
        pem, key = certificate(f"{role}.example.com")
        await world.ok(
            role,
            "POST",
            "/v2/certs/",
            {"name": f"{ctx['app']}-{role}", "certificate": pem, "key": key},
        )


@dataclass
class Case:
    method: str
    path: str
    expect: dict[str, int]
    body: Callable[[dict[str, str], str], Any] = lambda ctx, role: None
    setup: Setup = no_setup
    id: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def app_route(success: int, *, collaborator: int | None = None) -> dict[str, int]:
    """An app route: anonymous 401, stranger 403, app users `success`."""
    return {
        "anonymous": 401,
        "other": 403,
        "collaborator": success if collaborator is None else collaborator,
        "owner": success,
        "admin": success,
    }


def user_route(success: int) -> dict[str, int]:
    """A route any authenticated user may call."""
    return {
        "anonymous": 401,
        "other": success,
        "collaborator": success,
        "owner": success,
        "admin": success,
    }


def admin_route(success: int) -> dict[str, int]:
    return {"anonymous": 401, "other": 403, "collaborator": 403, "owner": 403, "admin": success}


def owner_only(success: int) -> dict[str, int]:
    return app_route(success, collaborator=403)


A = "/v2/apps/{app}"

CASES = [
    # API root, auth
    Case("GET", "/v2/", user_route(200)),
    Case("GET", "/v2/auth/whoami/", user_route(200)),
    Case(
        "POST",
        "/v2/auth/passwd/",
        {"anonymous": 401, "other": 200, "collaborator": 200, "owner": 200, "admin": 200},
        body=lambda ctx, role: {"password": "pw", "new_password": "pw"},
    ),
    Case("GET", "/v2/users/", admin_route(200)),
    Case("GET", "/v2/admin/perms/", admin_route(200)),
    Case(
        "POST",
        "/v2/admin/perms/",
        admin_route(201),
        body=lambda ctx, role: {"username": "collaborator"},
    ),
    Case(
        "DELETE",
        "/v2/admin/perms/{victim}",
        admin_route(204),
        setup=with_admin_to_revoke,
    ),
    # apps
    Case("GET", "/v2/apps/", user_route(200)),
    Case("POST", "/v2/apps/", user_route(201), body=lambda ctx, role: {"id": fresh("new-")}),
    Case("GET", A + "/", app_route(200)),
    Case(
        "POST",
        A + "/",
        owner_only(200),
        body=lambda ctx, role: {"owner": "owner"},
    ),
    Case("DELETE", A + "/", owner_only(204)),
    Case("PUT", A + "/", {r: (401 if r == "anonymous" else 405) for r in ROLES}),
    # config, builds, releases
    Case("GET", A + "/config/", app_route(200)),
    Case("POST", A + "/config/", app_route(201), body=lambda ctx, role: {"values": {"ROLE": role}}),
    Case("GET", A + "/builds/", app_route(200)),
    Case("POST", A + "/builds/", app_route(201), body=lambda ctx, role: {"image": f"img/{role}"}),
    Case("GET", A + "/releases/", app_route(200)),
    Case("GET", A + "/releases/v1/", app_route(200)),
    Case(
        "POST",
        A + "/releases/rollback/",
        app_route(201),
        setup=with_two_builds,
        body=lambda ctx, role: {"version": 2},
    ),
    # processes
    Case("GET", A + "/pods/", app_route(200)),
    Case("POST", A + "/pods/restart/", app_route(200)),
    Case(
        "POST", A + "/scale/", app_route(204), setup=with_build, body=lambda ctx, role: {"web": 2}
    ),
    Case(
        "POST",
        A + "/run",
        # The build is an image (`deis pull`): one-off commands run only in slugs here.
        app_route(400),
        setup=with_build,
        body=lambda ctx, role: {"command": "ls"},
    ),
    Case("GET", A + "/logs", app_route(500)),
    # domains
    Case("GET", A + "/domains/", app_route(200)),
    Case(
        "POST",
        A + "/domains/",
        app_route(201),
        body=lambda ctx, role: {"domain": f"{role}.{ctx['app']}.example.org"},
    ),
    Case("DELETE", A + "/domains/{domain}", owner_only(204), setup=with_domain),
    # perms
    Case("GET", A + "/perms/", app_route(200)),
    Case("POST", A + "/perms/", owner_only(201), body=lambda ctx, role: {"username": "other"}),
    Case(
        "DELETE",
        A + "/perms/collaborator",
        # The collaborator may revoke their own access; a stranger may not revoke anyone's.
        {"anonymous": 401, "other": 403, "collaborator": 204, "owner": 204, "admin": 204},
    ),
    # settings, whitelist, TLS
    Case("GET", A + "/settings/", app_route(200)),
    Case("POST", A + "/settings/", app_route(201), body=lambda ctx, role: {"maintenance": True}),
    Case("GET", A + "/whitelist/", app_route(200)),
    Case(
        "POST", A + "/whitelist/", app_route(201), body=lambda ctx, role: {"addresses": ["1.2.3.4"]}
    ),
    Case(
        "DELETE",
        A + "/whitelist/",
        owner_only(204),
        setup=with_address,
        body=lambda ctx, role: {"addresses": ["10.1.2.3"]},
    ),
    Case("GET", A + "/tls/", app_route(200)),
    Case("POST", A + "/tls/", app_route(201), body=lambda ctx, role: {"https_enforced": True}),
    # keys and certificates belong to users, not apps
    Case("GET", "/v2/keys/", user_route(200)),
    Case(
        "POST",
        "/v2/keys/",
        user_route(201),
        body=lambda ctx, role: {"id": fresh("key"), "public": public_key()},
    ),
    Case("GET", "/v2/keys/{app}-{role}", user_route(200), setup=with_own_key),
    Case("DELETE", "/v2/keys/{app}-{role}", user_route(204), setup=with_own_key),
    Case("GET", "/v2/certs/", user_route(200)),
    Case("GET", "/v2/certs/{app}-{role}", user_route(200), setup=with_own_cert),
    Case("DELETE", "/v2/certs/{app}-{role}", user_route(204), setup=with_own_cert),
    # builder hooks take the builder key, never a user token
    Case("GET", "/v2/hooks/key/00:11", dict.fromkeys(ROLES, 401)),
    Case(
        "POST",
        "/v2/hooks/config/",
        dict.fromkeys(ROLES, 401),
        body=lambda ctx, role: {"receive_user": "owner", "receive_repo": ctx["app"]},
    ),
]


@pytest.fixture
async def world(client: httpx.AsyncClient, register) -> World:
    tokens = {
        role: await register(role, "pw") for role in ("admin", "owner", "collaborator", "other")
    }
    return World(client=client, tokens=tokens)


async def prepare(world: World, case: Case, role: str) -> dict[str, str]:
    app = fresh("perm-")
    await world.ok("owner", "POST", "/v2/apps/", {"id": app})
    await world.ok("owner", "POST", f"/v2/apps/{app}/perms/", {"username": "collaborator"})
    ctx = {"app": app, "role": role}
    await case.setup(world, ctx)
    return ctx


@pytest.mark.parametrize("case", CASES, ids=[f"{case.method} {case.path}" for case in CASES])
async def test_permission_matrix(world: World, case: Case):
    seen: dict[str, int] = {}
    for role in ROLES:
        ctx = await prepare(world, case, role)
        path = case.path.format(**ctx)
        response = await world.call(role, case.method, path, case.body(ctx, role))
        seen[role] = response.status_code
    assert seen == case.expect
