# mypy: allow-untyped-defs, allow-untyped-calls, allow-incomplete-defs
"""ACME HTTP-01 answers: a challenge in KV `challenges` is answered on every plain HTTP server
(an app's, an unknown host's, the controller's), before an app's whitelist, HTTPS redirect or
maintenance page, without a reload; deleted, it is gone; a restarted nginx answers it again;
hostile tokens are neither taken nor served."""

import os
import signal
import subprocess

import pytest

from deis_router_agent.domain import challenging
from deis_router_agent.errors import NginxFailed
from deis_router_agent.nginx import agentsocket
from deis_shared import wire
from deis_shared.kv import challenges as challenges_kv, routes as routes_kv

TOKEN = "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA"
KEY_AUTHORIZATION = f"{TOKEN}.9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI"
OTHER = "x" * 22


@pytest.fixture
def router_overrides(upstreams):
    return {"controller_upstream": f"127.0.0.1:{upstreams('controller').port}"}


def secure_certificate(tmp_path, domain):
    """A self-signed certificate for `domain`, as a route's certificate (test_tls's kind)."""
    crt, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    command = [
        "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
        "-nodes", "-keyout", str(key), "-out", str(crt), "-days", "2", "-subj", f"/CN={domain}",
        "-addext", f"subjectAltName=DNS:{domain}",
    ]  # fmt: skip
    subprocess.run(command, check=True, capture_output=True)
    return routes_kv.Certificate(
        name="main", domains=[domain], certificate=crt.read_text(), key=key.read_text()
    )


def path(token):
    return f"{challenges_kv.PATH_PREFIX}{token}"


async def put(edge, token=TOKEN, key_authorization=KEY_AUTHORIZATION, *, key=None):
    """Write a challenge as the controller's issuer would (`key`: under another key)."""
    value = challenges_kv.Challenge.model_construct(
        token=token,
        key_authorization=key_authorization,
        app="web",
        domain="web.example.com",
        schema_version=1,
    )
    subject = f"$KV.{challenges_kv.BUCKET}.{key or token}"
    await edge.js.publish(subject, wire.encode(value))


async def delete(edge, token=TOKEN):
    await edge.js.publish(
        f"$KV.{challenges_kv.BUCKET}.{token}", b"", headers={"KV-Operation": "DEL"}
    )


def answered(edge, host, token=TOKEN, body=KEY_AUTHORIZATION):
    async def check():
        response = await edge.get(host, path(token))
        return response.status_code == 200 and response.text == body

    return check


async def socket_request(edge, method, body=b""):
    return await agentsocket.request(
        edge.router.ctx.layout.socket,
        method=method,
        target=challenging.SOCKET_LOCATION,
        body=body,
        seconds=5,
        what="test challenges",
    )


async def test_every_plain_http_server_answers_a_challenge_without_a_reload(
    edge, upstreams, until, tmp_path
):
    web = upstreams("web")
    await edge.route("plain", domains=["plain.example.com"])
    await edge.route(
        "secure",
        domains=["secure.example.com"],
        certificates=[secure_certificate(tmp_path, "secure.example.com")],
        https_enforced=True,
    )
    await edge.route("walled", whitelist=["10.0.0.0/8"])  # the tests come from 127.0.0.1
    await edge.route("paused", maintenance=True)
    for app in ("plain", "secure", "walled", "paused"):
        await edge.serve(app, web.port)
    await until(lambda: _status(edge, "paused.localhost", "/", 503))
    await edge.settled()
    reloads = edge.router.applier.reloads

    await put(edge)
    hosts = (
        "plain.example.com",
        "plain.localhost",
        "unknown.example.net",  # the default server
        "secure.example.com",  # https_enforced: redirected, but not the challenge
        "secure.localhost",
        "walled.localhost",  # outside the whitelist
        "paused.localhost",  # in maintenance
        "deis.localhost",  # the controller's server
    )
    for host in hosts:
        await until(answered(edge, host))
    response = await edge.get("walled.localhost", path(TOKEN))
    assert response.headers["content-type"] == "text/plain"

    # Every other path is as it was, a path under the prefix that is no token too.
    assert await _status(edge, "walled.localhost", "/", 403)
    assert await _status(edge, "walled.localhost", path("not.a.token"), 403)
    assert await _status(edge, "walled.localhost", f"{path(TOKEN)}/x", 403)
    response = await edge.get("secure.example.com", "/page?q=1")
    assert response.status_code == 301
    assert response.headers["location"].startswith("https://secure.example.com")
    assert await _status(edge, "secure.example.com", path("short"), 301)
    assert await _status(edge, "paused.localhost", "/", 503)
    assert await _status(edge, "unknown.example.net", "/", 404)
    assert (await edge.get("plain.localhost", "/")).json()["name"] == "web"
    assert (await edge.get("deis.localhost", "/")).json()["name"] == "controller"
    # An unknown token: 404, even behind the whitelist and the redirect.
    for host in ("walled.localhost", "secure.example.com", "paused.localhost"):
        assert await _status(edge, host, path(OTHER), 404)

    await delete(edge)
    for host in hosts:
        await until(lambda host=host: _status(edge, host, path(TOKEN), 404))
    assert edge.router.applier.reloads == reloads
    assert edge.router.answers.tokens == {}


async def test_a_restarted_nginx_answers_again(edge, until):
    await put(edge)
    await until(answered(edge, "any.example.com"))
    master = edge.router.ctx.master
    pid = master.pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)  # the shared dict dies with it

    async def restarted():
        return master.pid not in (None, pid)

    await until(restarted)
    await until(answered(edge, "any.example.com"))
    assert master.generation == 2
    assert await socket_request(edge, "GET") == f"{TOKEN}\n".encode()


async def test_hostile_tokens_are_neither_taken_nor_served(edge, until):
    await put(edge, "short", "short.x")  # too short
    await put(edge, "a.b" + "c" * 22, "x.y")  # a dot: two subject tokens, not base64url
    await put(edge, OTHER, "bad key authorization")  # spaces
    await put(edge, OTHER, f"{OTHER}.x", key="y" * 22)  # under another token's key
    await edge.js.publish(f"$KV.{challenges_kv.BUCKET}.{'z' * 22}", b"{not json")
    await put(edge)
    await until(answered(edge, "any.example.com"))
    assert edge.router.answers.tokens == {TOKEN: KEY_AUTHORIZATION}
    for token in ("short", "a.b" + "c" * 22, OTHER, "y" * 22, "z" * 22):
        assert await _status(edge, "any.example.com", path(token), 404)
    # Normalised by nginx (`/.well-known/x`), or not a token: nothing of the challenges'.
    for hostile in ("../x", "%2e%2e/x", f"{TOKEN}%20", f"{TOKEN}/", f"x%20{TOKEN}"):
        response = await edge.get("any.example.com", path(hostile))
        assert response.status_code == 404, hostile
        assert KEY_AUTHORIZATION not in response.text


async def test_nginx_refuses_malformed_lines_and_changes_nothing(edge, until):
    await put(edge)
    await until(answered(edge, "any.example.com"))
    sends = edge.router.answers.sends
    for body in (
        f"../x {KEY_AUTHORIZATION}\n",
        f"short {KEY_AUTHORIZATION}\n",
        f"{OTHER} bad value\n",
        f"{OTHER}  {KEY_AUTHORIZATION}\n",
        f"{OTHER} {KEY_AUTHORIZATION}",  # no newline
        f"{OTHER} a\n{OTHER} b\n",  # twice
        f"{OTHER} a\n\n",  # an empty line
        f"{OTHER} a<script>\n",
    ):
        with pytest.raises(NginxFailed, match="400"):
            await socket_request(edge, "PUT", body.encode())
    assert await socket_request(edge, "GET") == f"{TOKEN}\n".encode()
    assert await _status(edge, "any.example.com", path(TOKEN), 200)
    # A valid PUT replaces the set; the agent's own set comes back at its next change.
    assert await socket_request(edge, "PUT", f"{OTHER} {OTHER}.k\n".encode()) == b"ok 1\n"
    assert (await edge.get("any.example.com", path(OTHER))).text == f"{OTHER}.k"
    assert await _status(edge, "any.example.com", path(TOKEN), 404)
    await put(edge, "w" * 22, "w.k")
    await until(answered(edge, "any.example.com", "w" * 22, "w.k"))
    assert await _status(edge, "any.example.com", path(TOKEN), 200)
    assert await _status(edge, "any.example.com", path(OTHER), 404)
    assert edge.router.answers.sends > sends


async def _status(edge, host, target, expected):
    response = await edge.get(host, target)
    return response.status_code == expected
