# mypy: allow-untyped-defs, allow-untyped-calls, allow-incomplete-defs
"""The agent's key in KV `routers`: written once nginx serves what KV held, then as it serves
further into KV `endpoints` and at every heartbeat; deleted when the agent stops with its
nginx. Two agents on one platform converge on the same routes, each with its own key.
"""

import contextlib
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import nats.js.errors
import pytest

from deis_router_agent import service
from deis_router_agent.service import Router
from deis_shared import wire
from deis_shared.kv import routers as routers_kv
from deis_testing import free_port

pytestmark = pytest.mark.parametrize("router_overrides", [{"heartbeat_seconds": 0.2}])


async def member(js, agent: str) -> routers_kv.RouterMember | None:
    kv = await js.key_value(routers_kv.BUCKET)
    try:
        entry = await kv.get(routers_kv.key(agent))
    except nats.js.errors.KeyNotFoundError:  # KeyDeletedError too
        return None
    if not entry.value:
        return None
    return wire.decode(entry.value, routers_kv.RouterMember)


async def name_of(port: int, host: str) -> str | None:
    async with httpx.AsyncClient(timeout=5) as http:
        response = await http.get(f"http://127.0.0.1:{port}/", headers={"Host": host})
    return response.json()["name"] if response.status_code == 200 else None


@contextlib.asynccontextmanager
async def second_router(edge, tmp_path: Path, agent: str) -> AsyncIterator[Router]:
    sockets = Path(tempfile.mkdtemp(prefix="deis-ra2-"))
    settings = edge.settings.model_copy(
        update={
            "agent_name": agent,
            "data_dir": tmp_path / agent,
            "balancer_socket": sockets / "balancer.sock",
            "http_port": free_port(),
            "https_port": free_port(),
            "status_port": None,
        }
    )
    try:
        async with service.running(settings) as router:
            yield router
    finally:
        shutil.rmtree(sockets, ignore_errors=True)


async def test_the_key_says_how_far_the_router_serves(edge, upstreams, until):
    blue, green = upstreams("blue"), upstreams("green")
    await edge.route("paced")
    sequence = await edge.serve("paced", blue.port)
    got = await until(lambda: _reached(edge.js, "test-router", sequence))
    assert await name_of(edge.http_port, "paced.localhost") == "blue"  # claimed: served
    assert got.agent == "test-router"
    assert got.heartbeat_seconds == 0.2

    sequence = await edge.serve("paced", green.port, version=2)
    await until(lambda: _reached(edge.js, "test-router", sequence))
    assert await name_of(edge.http_port, "paced.localhost") == "green"


async def test_an_unchanged_put_and_a_quiet_router_are_reported_too(edge, upstreams, until):
    blue = upstreams("blue")
    await edge.route("calm")
    await edge.serve("calm", blue.port)
    await edge.settled()
    sequence = await edge.serve("calm", blue.port)  # the same value again: nothing to apply
    await until(lambda: _reached(edge.js, "test-router", sequence))
    first = await member(edge.js, "test-router")
    assert first is not None
    later = await until(lambda: _newer(edge.js, "test-router", first))  # the heartbeat
    assert later.endpoints_sequence == first.endpoints_sequence


async def test_leaving_deletes_the_key_for_good(edge, until):
    await until(lambda: member(edge.js, "test-router"))
    await edge.router.membership.leave()
    assert await member(edge.js, "test-router") is None
    assert await edge.router.membership.announce() is False
    assert await member(edge.js, "test-router") is None


async def test_two_routers_converge_and_a_new_one_announces_once_it_serves(
    edge, upstreams, until, tmp_path
):
    blue, green = upstreams("blue"), upstreams("green")
    await edge.route("shared", domains=["shared.example.com"])
    sequence = await edge.serve("shared", blue.port)
    await until(lambda: _reached(edge.js, "test-router", sequence))

    watcher = await (await edge.js.key_value(routers_kv.BUCKET)).watch(
        routers_kv.key("router-two.local")
    )
    async with second_router(edge, tmp_path, "router-two.local") as two:
        port = two.ctx.settings.http_port
        async for entry in watcher:  # its first key: what it serves then, it serves
            if entry is not None and entry.value:
                first = wire.decode(entry.value, routers_kv.RouterMember)
                assert first.endpoints_sequence >= sequence
                assert await name_of(port, "shared.example.com") == "blue"
                break
        sequence = await edge.serve("shared", green.port, version=2)
        for agent in ("test-router", "router-two.local"):
            await until(lambda agent=agent: _reached(edge.js, agent, sequence))
        assert await name_of(edge.http_port, "shared.example.com") == "green"
        assert await name_of(port, "shared.example.com") == "green"
        await edge.forget("shared")
        await until(lambda: _answers(port, "shared.example.com", 404))
        await until(lambda: _answers(edge.http_port, "shared.example.com", 404))
    await watcher.stop()
    assert await member(edge.js, "router-two.local") is None  # it stopped with its nginx
    assert await member(edge.js, "test-router") is not None


async def _reached(js, agent: str, sequence: int) -> routers_kv.RouterMember | None:
    got = await member(js, agent)
    return got if got is not None and got.endpoints_sequence >= sequence else None


async def _newer(js, agent: str, than: routers_kv.RouterMember) -> routers_kv.RouterMember | None:
    got = await member(js, agent)
    return got if got is not None and got.ts > than.ts else None


async def _answers(port: int, host: str, status: int) -> bool:
    async with httpx.AsyncClient(timeout=5) as http:
        response = await http.get(f"http://127.0.0.1:{port}/", headers={"Host": host})
    return response.status_code == status
