# mypy: allow-untyped-defs, allow-untyped-calls, allow-incomplete-defs
"""Reloads: coalesced, confirmed, harmless to requests and long-lived connections; nginx
restarted when it dies."""

import asyncio
import base64
import contextlib
import os
import signal

import httpx


async def served_by(edge, host, name):
    response = await edge.get(host)
    return response.status_code == 200 and response.json()["name"] == name


async def test_applied_events_carry_the_revision_and_latency(edge, upstreams, until):
    web = upstreams("web")
    await edge.route("evt")
    await edge.serve("evt", web.port, version=7)
    await until(lambda: served_by(edge, "evt.localhost", "web"))

    async def reported():
        return [e for e in edge.applied() if e["versions"].get("evt") == 7]

    events = await until(reported)  # the release whose endpoints went live, for the builder
    assert "evt" in events[-1]["apps"]
    assert events[-1]["agent"] == "test-router"
    assert events[-1]["revision"] >= 2  # revision 1 is the configuration nginx started with
    assert events[-1]["latency_seconds"] >= 0
    assert edge.router.applier.live == max(e["revision"] for e in edge.applied())


async def test_a_burst_of_changes_costs_no_reload(edge, upstreams, until):
    web = upstreams("web")
    reloads = edge.router.applier.reloads
    for index in range(100):
        await edge.route(f"burst{index}")
        await edge.serve(f"burst{index}", web.port)
    for index in range(100):
        await until(lambda index=index: served_by(edge, f"burst{index}.localhost", "web"))
    assert edge.router.applier.reloads == reloads


async def test_requests_see_no_failure_during_50_routing_changes(edge, upstreams, until):
    blue, green = upstreams("blue"), upstreams("green")
    await edge.route("busy")
    await edge.serve("busy", blue.port)
    await until(lambda: served_by(edge, "busy.localhost", "blue"))
    failures: list[str] = []
    answers = 0
    stop = asyncio.Event()

    async def hammer():
        nonlocal answers
        limits = httpx.Limits(max_keepalive_connections=0)
        async with httpx.AsyncClient(timeout=5, limits=limits) as http:
            while not stop.is_set():
                try:
                    response = await http.get(
                        f"http://127.0.0.1:{edge.http_port}/", headers={"Host": "busy.localhost"}
                    )
                except httpx.HTTPError as error:
                    failures.append(repr(error))
                    continue
                answers += 1
                if response.status_code != 200:
                    failures.append(f"{response.status_code}: {response.text[:100]}")

    loops = [asyncio.create_task(hammer(), name=f"hammer-{i}") for i in range(4)]
    reloads = edge.router.applier.reloads
    try:
        for version in range(2, 52):
            # A new domain and new endpoints each time: both in nginx's memory, no reload.
            domain = f"busy{version}.example.com"
            await edge.route("busy", domains=[domain])
            await edge.serve("busy", (blue, green)[version % 2].port, version=version)
            name = ("blue", "green")[version % 2]
            await until(lambda domain=domain, name=name: served_by(edge, domain, name))
    finally:
        stop.set()
        await asyncio.gather(*loops)
    assert failures == []
    assert answers > 50
    assert edge.router.applier.reloads == reloads


async def test_nginx_is_restarted_when_it_dies(edge, upstreams, until):
    web = upstreams("web")
    await edge.route("phoenix")
    await edge.serve("phoenix", web.port)
    await until(lambda: served_by(edge, "phoenix.localhost", "web"))
    master = edge.router.ctx.master
    pid = master.pid
    os.kill(pid, signal.SIGKILL)

    async def restarted():
        return master.pid not in (None, pid) and await served_by(edge, "phoenix.localhost", "web")

    await until(restarted)
    assert master.restarts == 1


async def test_websockets_are_proxied(edge, upstreams, until):
    web = upstreams("ws")
    await edge.route("chat")
    await edge.serve("chat", web.port)
    await until(lambda: served_by(edge, "chat.localhost", "ws"))
    await edge.settled()

    reader, writer = await asyncio.open_connection("127.0.0.1", edge.http_port)
    try:
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            "GET /ws HTTP/1.1\r\nHost: chat.localhost\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101")
        for text in (b"hello", b"through nginx"):
            mask = os.urandom(4)
            masked = bytes(b ^ mask[i % 4] for i, b in enumerate(text))
            writer.write(bytes([0x81, 0x80 | len(text)]) + mask + masked)
            frame = await reader.readexactly(2 + len(text))
            assert frame == bytes([0x81, len(text)]) + text
        # A reload does not cut the open websocket: the old worker keeps it.
        live = edge.router.applier.live
        await edge.route("chat", domains=["chat.example.com"])

        async def reloaded():
            return edge.router.applier.live > live

        await until(reloaded)
        mask = os.urandom(4)
        writer.write(bytes([0x81, 0x84]) + mask + bytes(b ^ mask[i] for i, b in enumerate(b"ping")))
        assert await reader.readexactly(6) == bytes([0x81, 4]) + b"ping"
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
