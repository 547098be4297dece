# mypy: allow-untyped-defs, allow-untyped-calls, allow-incomplete-defs
"""nginx's route table: domains, certificates, whitelists and maintenance without a reload."""

import asyncio
import base64
import contextlib
import os
import re
import signal
import subprocess

import pytest

from deis_router_agent.domain import keypairs
from deis_router_agent.errors import NginxFailed
from deis_router_agent.nginx import agentsocket, workers
from deis_shared.kv import routes as routes_kv


async def served_by(edge, host, name):
    response = await edge.get(host)
    return response.status_code == 200 and response.json()["name"] == name


def make_pair(tmp_path, name, domain):
    """A self-signed certificate for `domain` as the app's routes carry it, and its file."""
    pem = keypairs.self_signed(domain, names=[domain])
    key, _, chain = pem.partition("-----BEGIN CERTIFICATE-----")
    chain = "-----BEGIN CERTIFICATE-----" + chain
    path = tmp_path / f"{name}.crt"
    path.write_text(chain)
    value = routes_kv.Certificate(name=name, domains=[domain], certificate=chain, key=key)
    return value, path


async def https_ok(edge, host, cafile):
    """Whether curl, trusting only `cafile`, gets a 200 from `host` by SNI."""
    command = ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5",
               "--resolve", f"{host}:{edge.https_port}:127.0.0.1", "--cacert", str(cafile),
               f"https://{host}:{edge.https_port}/"]  # fmt: skip
    process = await asyncio.create_subprocess_exec(
        *command, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    out, _ = await process.communicate()
    return out == b"200"


async def request(reader, writer, host):
    """One GET on an open keep-alive connection: (status, body)."""
    writer.write(f"GET / HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    found = re.search(rb"(?i)content-length: *(\d+)", head)
    assert found is not None, head
    return int(head.split()[1]), await reader.readexactly(int(found[1]))


def nginx_state(edge):
    """What a reload changes: the master's workers, the reloads, the release they run."""
    applier = edge.router.applier
    return workers.workers(edge.router.ctx.master.pid), applier.reloads, applier.release


async def held(edge):
    """The apps nginx's route table holds, as GET /routes on the agent's socket answers."""
    body = await agentsocket.request(
        edge.router.ctx.layout.socket, method="GET", target="/routes", seconds=5, what="read"
    )
    return body.decode()


async def test_routing_changes_need_no_reload_and_keep_connections(
    edge, upstreams, until, tmp_path
):
    web = upstreams("web")
    await edge.route("calm")
    await edge.serve("calm", web.port)
    await until(lambda: served_by(edge, "calm.localhost", "web"))
    await edge.settled()
    before = nginx_state(edge)
    reader, writer = await asyncio.open_connection("127.0.0.1", edge.http_port)
    try:
        assert (await request(reader, writer, "calm.localhost"))[0] == 200
        await edge.route("calm", domains=["calm.example.com"])
        await until(lambda: served_by(edge, "calm.example.com", "web"))
        await edge.route("calm", domains=["calm.example.com"], maintenance=True)

        async def in_maintenance():
            return (await edge.get("calm.example.com")).status_code == 503

        await until(in_maintenance)
        await edge.route("calm", domains=["calm.example.com"], whitelist=["10.0.0.0/8"])

        async def denied():
            return (await edge.get("calm.example.com")).status_code == 403

        await until(denied)
        pair, ca = make_pair(tmp_path, "calm", "calm.example.com")
        await edge.route("calm", domains=["calm.example.com"], certificates=[pair])
        await until(lambda: https_ok(edge, "calm.example.com", ca))
        await edge.settled()
        status, body = await request(reader, writer, "calm.example.com")  # the same connection
        assert status == 200 and b'"web"' in body
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    assert nginx_state(edge) == before


async def test_a_restarted_nginx_is_sent_every_route(edge, upstreams, until, tmp_path):
    web = upstreams("web")
    pair, ca = make_pair(tmp_path, "tls", "tls.example.com")
    await edge.route("tls", domains=["tls.example.com"], certificates=[pair])
    await edge.serve("tls", web.port)
    await edge.route("plain", whitelist=["127.0.0.1"], maintenance=True)
    await until(lambda: served_by(edge, "tls.example.com", "web"))
    await edge.settled()
    table = await held(edge)
    assert table.count("\n") == 2 and "app plain m 7f000001/32 plain.localhost=-\n" in table
    master = edge.router.ctx.master
    pid = master.pid
    os.kill(pid, signal.SIGKILL)  # the shared dicts die with it

    async def restarted():
        return master.pid not in (None, pid)

    await until(restarted)
    await edge.settled()
    assert await held(edge) == table
    assert await https_ok(edge, "tls.example.com", ca)
    assert (await edge.get("plain.localhost")).status_code == 503


async def test_a_domain_moved_between_apps_stays_with_the_app_that_took_it(edge, upstreams, until):
    one, two = upstreams("one"), upstreams("two")
    await edge.route("first", domains=["shared.example.com"])
    await edge.serve("first", one.port)
    await edge.route("second")
    await edge.serve("second", two.port)
    await until(lambda: served_by(edge, "shared.example.com", "one"))
    await edge.route("second", domains=["shared.example.com"])  # added before the removal
    await until(lambda: served_by(edge, "shared.example.com", "two"))
    await edge.route("first")  # its removal leaves the domain with the app that took it
    await edge.forget("first")
    await until(lambda: _gone(edge))
    await edge.settled()
    assert await served_by(edge, "shared.example.com", "two")


async def _gone(edge):
    return (await edge.get("first.localhost")).status_code == 404


def _b64(text):
    return base64.b64encode(text.encode()).decode()


HOSTILE = [
    b"app ok - - ok.localhost=-",  # no newline at the end
    b"app Ok - - ok.localhost=-\n",
    b"app ok x - ok.localhost=-\n",
    b"app ok - 10.0.0.0/8 ok.localhost=-\n",  # not hex
    b"app ok - 0a000000/33 ok.localhost=-\n",
    b"app ok - - ok.localhost\n",
    b"app ok - - ok.local;host=-\n",
    b"app ok - - *evil=-\n",
    b"app ok - - ok.localhost=other/c-1\n",  # another app's certificate
    b"app ok - - ok.localhost=-\napp ok - - ok.localhost=-\n",
    b"cert ok/c-1 "
    + _b64("not a certificate").encode()
    + b" "
    + _b64("nor a key").encode()
    + b"\n",
    b"cert ok/c-1 !!! ???\n",
    b"gone ok extra\n",
    b"route ok\n",
    b"app ok - - ok.localhost=-\n" + b"a" * 64 + b"\n",
]


@pytest.mark.parametrize("body", HOSTILE)
async def test_malformed_route_lines_are_refused_whole(edge, upstreams, until, body):
    web = upstreams("web")
    await edge.route("ok")
    await edge.serve("ok", web.port)
    await until(lambda: served_by(edge, "ok.localhost", "web"))
    await edge.settled()
    table = await held(edge)
    socket_path = edge.router.ctx.layout.socket
    for method in ("PUT", "PATCH"):
        with pytest.raises(NginxFailed, match="400"):
            await agentsocket.request(
                socket_path, method=method, target="/routes", body=body, seconds=5, what="set"
            )
    assert await held(edge) == table
    assert await served_by(edge, "ok.localhost", "web")
