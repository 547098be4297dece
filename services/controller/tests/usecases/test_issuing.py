"""The certificate issuer against a real ACME server (Pebble), PostgreSQL and NATS.

Pebble here takes every challenge as passed (`PEBBLE_VA_ALWAYS_VALID`): serving the answers
is the router's part, tested with it. The issuer's background loop is off in most tests,
which run passes themselves (`Issuer.run_pass`), so each step is seen; one test leaves it on
and checks that enabling automatic TLS wakes it.
"""

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import httpx
import nats
import nats.js.errors
import pytest
from cryptography import x509
from fastapi import FastAPI

from deis_controller.usecases import issuing
from deis_shared.kv import challenges as challenges_kv, routes as routes_kv
from deis_testing import NatsServer, free_port
from deis_testing.pebble import PebbleServer

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def team_path() -> str:
    return "tls"


@pytest.fixture
def background_issuer() -> bool:
    """Whether the controller runs its own issuer loop (tests run passes themselves)."""
    return False


@pytest.fixture
def controller_overrides(pebble_server: PebbleServer, background_issuer: bool) -> dict[str, Any]:
    return {
        "acme_directory": pebble_server.directory,
        "acme_ca_bundle": pebble_server.ca_bundle,
        "acme_issuer": background_issuer,
        "acme_interval": 3600.0,
    }


def issuer(controller: FastAPI, **kwargs: Any) -> issuing.Issuer:
    ctx = controller.state.context
    return issuing.Issuer(pool=ctx.pool, settings=ctx.settings, **kwargs)


async def add_domains(client: httpx.AsyncClient, team: Any, *domains: str) -> None:
    for domain in domains:
        response = await client.post(
            f"/v2/apps/{team.app}/domains/", json={"domain": domain}, headers=team.headers["alice"]
        )
        assert response.status_code == 201, response.text


async def enable(client: httpx.AsyncClient, team: Any) -> dict[str, Any]:
    response = await client.post(
        team.url, json={"certs_auto_enabled": True}, headers=team.headers["alice"]
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def status(client: httpx.AsyncClient, team: Any) -> dict[str, dict[str, Any]]:
    response = await client.get(team.url, headers=team.headers["alice"])
    assert response.status_code == 200, response.text
    return {entry["domain"]: entry for entry in response.json()["certs_auto_status"]}


async def rows(controller: FastAPI, sql: str, *args: Any) -> list[dict[str, Any]]:
    async with controller.state.context.pool.acquire() as conn:
        return [dict(row) for row in await conn.fetch(sql, *args)]


async def certificates(controller: FastAPI) -> dict[str, dict[str, Any]]:
    """Every certificate by name, with the domains it is attached to."""
    found = await rows(
        controller,
        """
        SELECT c.name, c.certificate, c.fingerprint, c.expires,
               ARRAY(SELECT d.domain FROM domains d WHERE d.certificate_id = c.id) AS domains
        FROM certificates c ORDER BY c.name
        """,
    )
    return {row["name"]: row for row in found}


async def log_lines(controller: FastAPI, app: str) -> list[str]:
    found = await rows(
        controller, "SELECT payload FROM outbox WHERE subject = $1", f"deis.logs.{app}"
    )
    return [json.loads(row["payload"])["message"] for row in found]


def assert_chains_to(chain_pem: str, root_pem: str, *, domain: str) -> None:
    chain = x509.load_pem_x509_certificates(chain_pem.encode())
    root = x509.load_pem_x509_certificate(root_pem.encode())
    san = chain[0].extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert san.value.get_values_for_type(x509.DNSName) == [domain]
    for child, parent in zip(chain, [*chain[1:], root], strict=True):
        child.verify_directly_issued_by(parent)


@pytest.fixture
async def routes_kv_bucket(
    controller: FastAPI, nats_server: NatsServer
) -> AsyncIterator[Callable[[str], Any]]:
    del controller
    nc = await nats.connect(nats_server.url)

    async def read(app: str) -> dict[str, Any] | None:
        kv = await nc.jetstream().key_value(routes_kv.BUCKET)
        try:
            entry = await kv.get(app)
        except nats.js.errors.KeyNotFoundError:
            return None
        value: dict[str, Any] = json.loads(entry.value or b"{}")
        return value

    try:
        yield read
    finally:
        await nc.close()


async def eventually(check: Callable[[], Any], *, within: float = 20.0) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        value = await check()
        if value or loop.time() > deadline:
            return value
        await asyncio.sleep(0.1)


async def test_enabling_issues_a_certificate_per_domain_served_by_the_router(
    client, team, controller, pebble_server: PebbleServer, routes_kv_bucket
):
    await add_domains(client, team, "shop.example.com", "www.example.com")
    body = await enable(client, team)
    assert body["certs_auto_enabled"] is True
    assert {entry["state"] for entry in body["certs_auto_status"]} == {"pending"}

    assert await issuer(controller).run_pass() is True

    states = await status(client, team)
    assert set(states) == {"shop.example.com", "www.example.com"}
    for domain, entry in states.items():
        assert entry["state"] == "issued", entry
        assert entry["certificate"] == f"auto-{domain.replace('.', '-')}"
        assert entry["expires"] and entry["last_error"] is None and entry["next_attempt"] is None
    certs = await certificates(controller)
    root = pebble_server.root()
    for domain in states:
        cert = certs[f"auto-{domain.replace('.', '-')}"]
        assert cert["domains"] == [domain]
        assert_chains_to(cert["certificate"], root, domain=domain)
    listed = await client.get("/v2/certs/", headers=team.headers["alice"])
    assert sorted(c["name"] for c in listed.json()["results"]) == sorted(certs)

    async def served() -> dict[str, Any] | None:
        value = await routes_kv_bucket(team.app)
        return value if value and len(value["certificates"]) == 2 else None

    routing = await eventually(served)
    assert routing is not None
    assert sorted((c["name"], c["domains"]) for c in routing["certificates"]) == [
        ("auto-shop-example-com", ["shop.example.com"]),
        ("auto-www-example-com", ["www.example.com"]),
    ]
    lines = await log_lines(controller, team.app)
    assert any(line.startswith("issued certificate auto-shop-example-com") for line in lines)
    # The challenges were written to KV, then deleted once the order was done.
    answered = await rows(
        controller,
        "SELECT kind FROM outbox WHERE bucket = $1 ORDER BY seq",
        challenges_kv.BUCKET,
    )
    assert [row["kind"] for row in answered].count("kv_put") == 2
    assert [row["kind"] for row in answered].count("kv_delete") == 2

    # A second pass has nothing to do.
    await issuer(controller).run_pass()
    assert await certificates(controller) == certs
    # One account, made once and kept.
    accounts = await rows(controller, "SELECT directory, uri FROM acme_accounts")
    assert len(accounts) == 1 and accounts[0]["uri"].startswith("https://127.0.0.1:")


async def test_a_certificate_with_a_third_of_its_life_left_is_renewed(client, team, controller):
    await add_domains(client, team, "shop.example.com")
    await enable(client, team)
    await issuer(controller).run_pass()
    before = (await certificates(controller))["auto-shop-example-com"]
    async with controller.state.context.pool.acquire() as conn:
        await conn.execute(
            "UPDATE certificates SET starts = now() - interval '80 days',"
            " expires = now() + interval '10 days'"
        )
    account = await rows(controller, "SELECT key, uri FROM acme_accounts")
    await issuer(controller).run_pass()
    assert await rows(controller, "SELECT key, uri FROM acme_accounts") == account
    after = await certificates(controller)
    assert list(after) == ["auto-shop-example-com"]
    renewed = after["auto-shop-example-com"]
    assert renewed["fingerprint"] != before["fingerprint"]
    assert renewed["domains"] == ["shop.example.com"]
    assert (await status(client, team))["shop.example.com"]["state"] == "issued"
    assert any(
        line.startswith("renewed certificate auto-shop-example-com")
        for line in await log_lines(controller, team.app)
    )


async def test_a_removed_domain_loses_its_certificate(client, team, controller):
    await add_domains(client, team, "shop.example.com", "www.example.com")
    await enable(client, team)
    await issuer(controller).run_pass()
    removed = await client.delete(
        f"/v2/apps/{team.app}/domains/www.example.com", headers=team.headers["alice"]
    )
    assert removed.status_code == 204, removed.text
    await issuer(controller).run_pass()
    assert list(await certificates(controller)) == ["auto-shop-example-com"]
    assert set(await status(client, team)) == {"shop.example.com"}
    assert await rows(controller, "SELECT domain FROM acme_domains") == [
        {"domain": "shop.example.com"}
    ]


async def test_a_wildcard_fails_for_good_and_blocks_nothing(client, team, controller):
    await add_domains(client, team, "*.example.org", "shop.example.com")
    await enable(client, team)
    await issuer(controller).run_pass()
    states = await status(client, team)
    assert states["shop.example.com"]["state"] == "issued"
    wildcard = states["*.example.org"]
    assert wildcard["state"] == "failed"
    assert "wildcard" in wildcard["last_error"]
    assert wildcard["next_attempt"] is None
    assert list(await certificates(controller)) == ["auto-shop-example-com"]


async def test_a_refused_domain_is_backed_off_and_shown(client, team, controller):
    await add_domains(client, team, "shop.rejected.test", "www.example.com")
    await enable(client, team)
    await issuer(controller).run_pass()
    states = await status(client, team)
    assert states["www.example.com"]["state"] == "issued"
    refused = states["shop.rejected.test"]
    assert refused["state"] == "failed"
    assert refused["last_error"].startswith("rejectedIdentifier:"), refused
    assert refused["next_attempt"] is not None
    lines = await log_lines(controller, team.app)
    assert any(line.startswith("automatic TLS for shop.rejected.test failed") for line in lines)

    # Within its backoff the domain is left alone; past it, tried again, and the wait doubles.
    await issuer(controller).run_pass()
    attempts = "SELECT attempts, next_attempt FROM acme_domains WHERE domain = 'shop.rejected.test'"
    first = (await rows(controller, attempts))[0]
    assert first["attempts"] == 1
    async with controller.state.context.pool.acquire() as conn:
        await conn.execute("UPDATE acme_domains SET next_attempt = now() - interval '1 second'")
    await issuer(controller).run_pass()
    second = (await rows(controller, attempts))[0]
    assert second["attempts"] == 2
    assert second["next_attempt"] - first["next_attempt"] > timedelta(seconds=50)


async def test_an_unreachable_server_fails_every_due_domain_with_the_reason(
    client, team, controller
):
    await add_domains(client, team, "shop.example.com")
    await enable(client, team)
    ctx = controller.state.context
    away = ctx.settings.model_copy(
        update={"acme_directory": f"https://127.0.0.1:{free_port()}/dir"}
    )
    assert await issuing.Issuer(pool=ctx.pool, settings=away).run_pass() is True
    entry = (await status(client, team))["shop.example.com"]
    assert entry["state"] == "failed"
    assert entry["last_error"].startswith("cannot reach the ACME server"), entry
    assert entry["next_attempt"] is not None


async def test_a_pass_killed_mid_order_resumes_the_same_order(client, team, controller):
    await add_domains(client, team, "shop.example.com")
    await enable(client, team)
    stored = asyncio.Event()
    orders: list[str] = []

    async def stop_here(domain: str, url: str) -> None:
        orders.append(url)
        stored.set()
        await asyncio.Event().wait()

    killed = asyncio.create_task(issuer(controller, after_order=stop_here).run_pass())
    await asyncio.wait_for(stored.wait(), timeout=30)
    killed.cancel()
    with pytest.raises(asyncio.CancelledError):
        await killed
    row = (await rows(controller, "SELECT state, order_url FROM acme_domains"))[0]
    assert row == {"state": "issuing", "order_url": orders[0]}
    assert (await status(client, team))["shop.example.com"]["state"] == "issuing"

    resumed: list[str] = []

    async def note(domain: str, url: str) -> None:
        resumed.append(url)

    assert await issuer(controller, after_order=note).run_pass() is True
    assert resumed == orders  # the same order, not a second one
    row = (await rows(controller, "SELECT state, order_url FROM acme_domains"))[0]
    assert row == {"state": "issued", "order_url": orders[0]}
    assert list(await certificates(controller)) == ["auto-shop-example-com"]


async def test_one_issuer_at_a_time(client, team, controller):
    await add_domains(client, team, "shop.example.com")
    await enable(client, team)
    inside, release = asyncio.Event(), asyncio.Event()

    async def hold(domain: str, url: str) -> None:
        inside.set()
        await release.wait()

    first = asyncio.create_task(issuer(controller, after_order=hold).run_pass())
    await asyncio.wait_for(inside.wait(), timeout=30)
    assert await issuer(controller).run_pass() is False  # another replica skips
    release.set()
    assert await first is True
    assert await issuer(controller).run_pass() is True
    assert list(await certificates(controller)) == ["auto-shop-example-com"]


async def test_turning_it_off_stops_issuing_and_keeps_the_certificates(client, team, controller):
    await add_domains(client, team, "shop.example.com")
    await enable(client, team)
    await issuer(controller).run_pass()
    off = await client.post(
        team.url, json={"certs_auto_enabled": False}, headers=team.headers["bob"]
    )
    assert off.status_code == 201, off.text
    assert off.json()["certs_auto_enabled"] is False
    assert off.json()["certs_auto_status"] == []
    again = await client.post(
        team.url, json={"certs_auto_enabled": False}, headers=team.headers["bob"]
    )
    assert again.status_code == 409
    await add_domains(client, team, "www.example.com")
    await issuer(controller).run_pass()
    assert list(await certificates(controller)) == ["auto-shop-example-com"]
    assert "bob disabled automatic TLS" in await log_lines(controller, team.app)


async def test_the_real_client_posts_only_https_enforced(client, team, controller):
    await enable(client, team)
    response = await client.post(
        team.url, json={"https_enforced": True}, headers=team.headers["alice"]
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["https_enforced"], body["certs_auto_enabled"]) == (True, True)
    both = await client.post(
        team.url,
        json={"https_enforced": True, "certs_auto_enabled": True},
        headers=team.headers["alice"],
    )
    assert both.status_code == 409
    bad = await client.post(
        team.url, json={"certs_auto_enabled": "maybe"}, headers=team.headers["alice"]
    )
    assert bad.status_code == 400
    assert bad.json() == {"certs_auto_enabled": ["Must be a valid boolean."]}


@pytest.mark.parametrize("background_issuer", [True])
async def test_enabling_wakes_the_issuer(client, team, controller):
    await add_domains(client, team, "shop.example.com")
    await enable(client, team)

    async def issued() -> bool:
        states = await status(client, team)
        return bool(states["shop.example.com"]["state"] == "issued")

    assert await eventually(issued)


@pytest.mark.parametrize("public", [True, False], ids=["public", "private"])
async def test_the_default_domain_is_certified_only_where_the_platform_domain_is_public(
    client, team, controller, pebble_server: PebbleServer, public
):
    settings = controller.state.context.settings.model_copy(
        update={"acme_platform_domain_public": public, "platform_domain": "apps.example.net"}
    )
    await add_domains(client, team, "shop.example.com")
    await enable(client, team)
    pool = controller.state.context.pool
    assert await issuing.Issuer(pool=pool, settings=settings).run_pass() is True

    states = await status(client, team)
    if not public:
        assert set(states) == {"shop.example.com"}
        return
    assert set(states) == {team.app, "shop.example.com"}  # the default domain, named as the app
    assert states[team.app]["state"] == "issued", states[team.app]
    name = f"auto-{team.app}"
    cert = (await certificates(controller))[name]
    assert cert["domains"] == [team.app]
    assert_chains_to(
        cert["certificate"], pebble_server.root(), domain=f"{team.app}.apps.example.net"
    )
