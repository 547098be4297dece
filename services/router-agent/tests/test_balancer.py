# mypy: allow-untyped-defs, allow-untyped-calls, allow-incomplete-defs
"""The Lua balancer: endpoint changes reach nginx without a reload, through a socket that only
the agent reaches; server-block changes still reload; a restarted nginx is sent every endpoint."""

import asyncio
import contextlib
import json
import os
import re
import signal
import stat
import subprocess

import httpx
import pytest

from deis_router_agent.errors import NginxFailed
from deis_router_agent.nginx import balancer, workers
from deis_testing import free_port


async def served_by(edge, host, name):
    response = await edge.get(host)
    return response.status_code == 200 and response.json()["name"] == name


def applied_version(edge, app, version):
    async def check():
        return any(e["versions"].get(app) == version for e in edge.applied())

    return check


def nginx_state(edge):
    """What a reload changes: the master's workers and the release they run."""
    master = edge.router.ctx.master
    applier = edge.router.applier
    return workers.workers(master.pid), applier.reloads, applier.release


async def dump(edge):
    """The balancer's endpoints, as GET /endpoints on its socket answers them."""
    reader, writer = await asyncio.open_unix_connection(str(edge.router.ctx.layout.socket))
    try:
        writer.write(b"GET /endpoints HTTP/1.0\r\nHost: balancer\r\n\r\n")
        response = await reader.read()
    finally:
        writer.close()
        await writer.wait_closed()
    head, _, body = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    return body.decode()


async def request(reader, writer, host):
    """One GET on an open keep-alive connection: (status, body)."""
    writer.write(f"GET / HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    found = re.search(rb"(?i)content-length: *(\d+)", head)
    assert found is not None, head
    return int(head.split()[1]), await reader.readexactly(int(found[1]))


async def test_an_endpoint_change_is_served_at_once_without_a_reload(edge, upstreams, until):
    blue, green = upstreams("blue"), upstreams("green")
    await edge.route("swift")
    await edge.serve("swift", blue.port)
    await until(lambda: served_by(edge, "swift.localhost", "blue"))
    await edge.settled()
    before = nginx_state(edge)
    assert before[0]  # nginx has workers

    await edge.serve("swift", green.port, version=2)
    await until(applied_version(edge, "swift", 2))
    assert await served_by(edge, "swift.localhost", "green")  # applied: served from then on
    await edge.serve("swift", version=3)  # scaled to zero: the 503 page, still no reload
    await until(applied_version(edge, "swift", 3))
    response = await edge.get("swift.localhost")
    assert response.status_code == 503
    assert "no running web process" in response.text
    await edge.serve("swift", blue.port, green.port, version=4)
    await until(applied_version(edge, "swift", 4))
    names = {(await edge.get("swift.localhost")).json()["name"] for _ in range(4)}
    assert names == {"blue", "green"}  # round robin
    assert nginx_state(edge) == before


async def test_a_keep_alive_client_sees_no_failure_through_20_endpoint_changes(
    edge, upstreams, until
):
    blue, green = upstreams("blue"), upstreams("green")
    await edge.route("steady")
    await edge.serve("steady", blue.port)
    await until(lambda: served_by(edge, "steady.localhost", "blue"))
    await edge.settled()
    before = nginx_state(edge)
    reader, writer = await asyncio.open_connection("127.0.0.1", edge.http_port)
    seen: list[str] = []
    failures: list[str] = []
    stop = asyncio.Event()

    async def loop():
        while not stop.is_set() and len(seen) < 900:  # nginx's keepalive_requests is 1000
            try:
                status, body = await request(reader, writer, "steady.localhost")
            except (OSError, asyncio.IncompleteReadError) as error:
                failures.append(repr(error))  # the connection is gone: a reload closed it
                return
            if status == 200:
                seen.append(json.loads(body)["name"])
            else:
                failures.append(f"{status}: {body[:100]!r}")
            await asyncio.sleep(0.002)

    task = asyncio.create_task(loop(), name="keep-alive-client")
    try:
        for version in range(2, 22):
            await edge.serve("steady", (blue, green)[version % 2].port, version=version)
            await until(applied_version(edge, "steady", version))
        stop.set()
        await task
        assert failures == []
        status, body = await request(reader, writer, "steady.localhost")  # the same connection
        assert (status, json.loads(body)["name"]) == (200, "green")  # version 21's
    finally:
        stop.set()
        await task
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    assert {"blue", "green"} <= set(seen)
    assert nginx_state(edge) == before


async def test_connections_to_the_app_are_kept_alive_across_endpoint_changes(
    edge, upstreams, until
):
    web = upstreams("web")
    await edge.route("pool")
    await edge.serve("pool", web.port)
    await until(lambda: served_by(edge, "pool.localhost", "web"))
    await edge.settled()
    first = (await edge.get("pool.localhost")).json()["peer_port"]
    assert (await edge.get("pool.localhost")).json()["peer_port"] == first
    await edge.serve("pool", web.port, version=2)
    await until(applied_version(edge, "pool", 2))
    assert (await edge.get("pool.localhost")).json()["peer_port"] == first


async def test_a_peer_that_refuses_connections_is_skipped_for_the_next(edge, upstreams, until):
    web = upstreams("web")
    await edge.route("half")
    await edge.serve("half", free_port(), web.port)  # nothing listens on the first
    await until(lambda: served_by(edge, "half.localhost", "web"))
    await edge.settled()  # old workers (404 for the new app) no longer accept
    for _ in range(6):
        assert await served_by(edge, "half.localhost", "web")


async def test_a_restarted_nginx_is_sent_every_endpoint(edge, upstreams, until):
    web = upstreams("web")
    for app in ("one", "two"):
        await edge.route(app)
        await edge.serve(app, web.port)
        await until(lambda app=app: served_by(edge, f"{app}.localhost", "web"))
    await edge.settled()
    assert await dump(edge) == f"one 127.0.0.1:{web.port}\ntwo 127.0.0.1:{web.port}\n"
    master = edge.router.ctx.master
    pid = master.pid
    os.kill(pid, signal.SIGKILL)  # the shared dict dies with it

    async def restarted():
        return master.pid not in (None, pid)

    await until(restarted)
    await edge.settled()
    assert await dump(edge) == f"one 127.0.0.1:{web.port}\ntwo 127.0.0.1:{web.port}\n"
    assert await served_by(edge, "one.localhost", "web")
    assert await served_by(edge, "two.localhost", "web")
    assert edge.router.applier.endpoints.synced == master.generation == 2


async def test_the_socket_is_the_agents_alone_and_not_on_tcp(edge):
    socket_path = edge.router.ctx.layout.socket
    assert stat.S_ISSOCK(socket_path.stat().st_mode)
    directory = socket_path.parent.stat()
    assert stat.S_IMODE(directory.st_mode) == 0o700
    assert directory.st_uid == os.geteuid()
    if os.geteuid() == 0:  # another user cannot reach it (the venv's python may not be theirs)
        probe = "import socket, sys; socket.socket(socket.AF_UNIX).connect(sys.argv[1])"
        result = await asyncio.to_thread(
            subprocess.run,
            ["/usr/bin/python3", "-c", probe, str(socket_path)],
            user="nobody",
            capture_output=True,
            check=False,
        )
        assert result.returncode != 0
        assert b"PermissionError" in result.stderr
    async with httpx.AsyncClient(timeout=5) as http:
        for port in (edge.http_port, edge.router.ctx.options.status_port):
            for method in ("GET", "PUT", "PATCH"):
                response = await http.request(
                    method, f"http://127.0.0.1:{port}/endpoints", content=b"x 10.0.0.1:1\n"
                )
                assert response.status_code in (404, 405), (port, method)
    assert await dump(edge) == ""


@pytest.mark.parametrize(
    "body",
    [
        b"web 127.0.0.1:5000",  # no newline at the end
        b"\n",
        b"Web 127.0.0.1:5000\n",
        b"-web 127.0.0.1:5000\n",
        b"web host.example.com:5000\n",
        b"web 127.0.0.1\n",
        b"web 127.0.0.1:0\n",
        b"web 127.0.0.1:65536\n",
        b"web 127.0.0.1:000080\n",
        b"web 256.0.0.1:80\n",
        b"web [fe80::1%lo]:80\n",
        b"web ::1:80\n",
        b"web 127.0.0.1:80;\n",
        b"web  127.0.0.1:80\n",
        b"web 127.0.0.1:80 \n",
        b"web\t127.0.0.1:80\n",
        b"web 127.0.0.1:80\nweb 127.0.0.1:81\n",
        b"ok 127.0.0.1:80\n" + b"a" * 64 + b"\n",
    ],
)
async def test_malformed_endpoints_are_refused_whole(edge, upstreams, until, body):
    web = upstreams("web")
    await edge.route("ok")
    await edge.serve("ok", web.port)
    await until(lambda: served_by(edge, "ok.localhost", "web"))
    await edge.settled()
    socket_path = edge.router.ctx.layout.socket
    for replace in (True, False):
        with pytest.raises(NginxFailed, match="400"):
            await balancer.send(socket_path, body=body, replace=replace, seconds=5)
    assert await dump(edge) == f"ok 127.0.0.1:{web.port}\n"
    assert await served_by(edge, "ok.localhost", "web")


async def test_applied_names_in_routes_only_the_apps_whose_routes_changed(edge, upstreams, until):
    web = upstreams("web")
    await edge.route("noted")
    await edge.serve("noted", web.port)
    await until(lambda: served_by(edge, "noted.localhost", "web"))
    await edge.settled()
    seen = len(edge.applied())
    await edge.serve("noted", version=2)  # endpoints alone
    await until(applied_version(edge, "noted", 2))
    endpoints_only = [e for e in edge.applied()[seen:] if "noted" in e["apps"]]
    assert endpoints_only and all(e["routes"] == [] for e in endpoints_only), endpoints_only
    seen = len(edge.applied())
    await edge.route("noted", maintenance=True)  # its routes
    await until(lambda: _names_routes(edge, seen, "noted"))


async def _names_routes(edge, seen: int, app: str) -> bool:
    return any(app in event["routes"] for event in edge.applied()[seen:])
