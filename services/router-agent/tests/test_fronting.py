# mypy: allow-untyped-defs, allow-untyped-calls, allow-incomplete-defs
"""The router fronting the platform, as on Kubernetes: `deis.<platform domain>` reaches the
controller (an upstream process stands in for it) and `builder_port` the builder (a TCP echo
server here), while every other host still goes to the apps."""

import asyncio
import socketserver
import subprocess
import threading

import httpx
import pytest

from deis_shared.kv import routes as routes_kv
from deis_testing import free_port

GREETING = b"SSH-2.0-builder\r\n"


class _Echo(socketserver.BaseRequestHandler):
    """Greets as an SSH server does, then sends back every byte it reads."""

    def handle(self):
        self.request.sendall(GREETING)
        while data := self.request.recv(65536):
            self.request.sendall(data)


@pytest.fixture
def builder():
    """A TCP echo server standing in for the builder's SSH: its port."""
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Echo)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="builder-echo", daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def controller(upstreams):
    return upstreams("controller")


@pytest.fixture
def router_overrides(controller, builder):
    return {
        "controller_upstream": f"127.0.0.1:{controller.port}",
        "builder_upstream": f"127.0.0.1:{builder}",
        "builder_port": free_port(),
    }


async def _name(edge, host, path="/"):
    response = await edge.get(host, path)
    return response.json()["name"] if response.status_code == 200 else response.status_code


async def test_the_controllers_name_reaches_the_controller_with_forwarding_headers(
    edge, upstreams, until
):
    web = upstreams("web")
    await edge.route("blog")
    await edge.serve("blog", web.port)
    await until(lambda: _is(edge, "blog.localhost", "web"))
    await edge.settled()

    response = await edge.get(
        "deis.localhost", "/v2/apps?limit=1", headers={"X-Forwarded-For": "1.2.3.4"}
    )
    assert response.status_code == 200
    seen = response.json()
    assert seen["name"] == "controller"
    assert seen["path"] == "/v2/apps?limit=1"
    headers = {k.lower(): v for k, v in seen["headers"].items()}
    assert headers["host"] == "deis.localhost"
    assert headers["x-forwarded-for"] == "1.2.3.4, 127.0.0.1"
    assert headers["x-forwarded-proto"] == "http"
    assert headers["x-forwarded-port"] == str(edge.http_port)
    assert len(headers["x-request-id"]) == 32
    # A request body as large as the API takes (a slug-sized `deis config:push`, say).
    async with _client() as http:
        posted = await http.post(
            f"http://127.0.0.1:{edge.http_port}/v2/apps/blog/config",
            headers={"Host": "deis.localhost"},
            content=b"x" * 3_000_000,
        )
    assert posted.json() == {"name": "controller", "received": 3_000_000}
    # Other hosts are unchanged: apps, and the 404 of unknown names.
    assert await _name(edge, "blog.localhost") == "web"
    assert await _name(edge, "deis.example.com") == 404
    assert await _name(edge, "api.deis.localhost") == 404


async def test_no_app_can_take_the_controllers_name(edge, upstreams, until, tmp_path):
    squatter = upstreams("squatter")
    pem, key = _wildcard_certificate(tmp_path)
    await edge.route("deis", domains=["deis-app.example.com"])  # default domain deis.localhost
    await edge.serve("deis", squatter.port)
    await edge.route(
        "squat",
        domains=["deis", "deis.localhost", "*.localhost"],
        certificates=[
            routes_kv.Certificate(
                name="wild", domains=["deis.localhost", "*.localhost"], certificate=pem, key=key
            )
        ],
    )
    await edge.serve("squat", squatter.port)
    await until(lambda: _is(edge, "deis-app.example.com", "squatter"))  # the rest of `deis`
    await until(lambda: _is(edge, "other.localhost", "squatter"))  # the squatter's wildcard
    await edge.settled()

    assert await _name(edge, "deis.localhost") == "controller"
    assert await _name(edge, "DEIS.localhost.") == "controller"  # nginx normalises the Host
    # Over HTTPS the wildcard certificate serves other names, never the controller's.
    assert await _https(edge, "other.localhost") == 200
    assert await _https(edge, "deis.localhost") is None  # handshake refused
    assert not edge.rejected()
    # nginx never even saw two servers claim the name.
    log = (edge.settings.data_dir / "logs" / "error.log").read_text()
    assert "conflicting server name" not in log


async def test_bytes_through_the_builder_port_reach_the_builder_and_come_back(
    edge, upstreams, until
):
    await edge.settled()
    reader, writer = await asyncio.open_connection("127.0.0.1", edge.settings.builder_port)
    try:
        assert await asyncio.wait_for(reader.readexactly(len(GREETING)), 5) == GREETING
        payload = bytes(range(256)) * 4096  # 1 MiB, as a small push's pack
        writer.write(payload)
        await writer.drain()
        echoed = await asyncio.wait_for(reader.readexactly(len(payload)), 10)
        assert echoed == payload
        # A reload meanwhile (the pushed app going live, say) leaves the push connected.
        web = upstreams("web")
        await edge.route("pushed")
        await edge.serve("pushed", web.port)
        await until(lambda: _is(edge, "pushed.localhost", "web"))
        await edge.settled()
        writer.write(b"done?")
        await writer.drain()
        assert await asyncio.wait_for(reader.readexactly(5), 5) == b"done?"
        writer.write_eof()
        assert await asyncio.wait_for(reader.read(), 5) == b""  # the builder's close comes back
    finally:
        writer.close()
        await writer.wait_closed()


async def _is(edge, host, name):
    return await _name(edge, host) == name


def _client():
    return httpx.AsyncClient(timeout=10, limits=httpx.Limits(max_keepalive_connections=0))


def _wildcard_certificate(tmp_path):
    crt, key = tmp_path / "wild.crt", tmp_path / "wild.key"
    command = [
        "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
        "-nodes", "-keyout", str(key), "-out", str(crt), "-days", "2", "-subj", "/CN=*.localhost",
        "-addext", "subjectAltName=DNS:*.localhost,DNS:deis.localhost",
    ]  # fmt: skip
    subprocess.run(command, check=True, capture_output=True)
    return crt.read_text(), key.read_text()


async def _https(edge, host):
    """The status of `https://<host>/` through nginx (certificate unchecked); None: no TLS."""
    port = edge.https_port
    command = ["curl", "-sk", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5",
               "--resolve", f"{host}:{port}:127.0.0.1", f"https://{host}:{port}/"]  # fmt: skip
    process = await asyncio.create_subprocess_exec(
        *command, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    out, _ = await process.communicate()
    return int(out) if process.returncode == 0 else None
