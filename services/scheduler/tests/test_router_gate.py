# mypy: allow-untyped-defs, allow-untyped-calls, allow-incomplete-defs
"""A release's old processes stop only once every live router serves the endpoints that left
them out (KV `routers`), a router that stopped beating is not waited for, and the deadline
stops them anyway, naming the router that lagged in the app's log.

The routers here are keys written by the test as router agents write them: the router agent
itself is not part of these tests (tests/e2e and the router agent's own tests run both).
"""

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator

import pytest

from deis_shared import wire
from deis_shared.events import logs as log_events
from deis_shared.kv import endpoints as endpoints_kv, routers as routers_kv

PROCFILE = {"web": "python3 app.py"}


async def deploy(platform, app, app_files, *, version, sha):
    await platform.slug(app, sha, app_files)
    await platform.desire(app, version=version, sha=sha, procfile=PROCFILE, formation={"web": 1})
    result, event = await platform.outcome(app, version)
    assert result == "succeeded", event


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def web_pid(platform, app):
    procs = await platform.procs(app)
    assert procs is not None
    (web,) = [p for p in procs.processes if p.type == "web" and p.state == "up"]
    assert web.pid is not None
    return web.pid


async def endpoints_sequence(platform, app):
    kv = await platform.js.key_value(endpoints_kv.BUCKET)
    entry = await kv.get(app)
    assert entry.revision is not None
    return entry.revision


class FakeRouterKey:
    """A router agent's key, written as the agent writes it, beating while `beating`."""

    def __init__(self, platform, agent: str, *, heartbeat: float = 0.2) -> None:
        self.platform = platform
        self.agent = agent
        self.heartbeat = heartbeat
        self.sequence = 0
        self.started = wire.utc_now()

    async def put(self) -> None:
        value = routers_kv.RouterMember(
            agent=self.agent,
            started_at=self.started,
            heartbeat_seconds=self.heartbeat,
            endpoints_sequence=self.sequence,
            revision=1,
        )
        subject = f"$KV.{routers_kv.BUCKET}.{routers_kv.key(self.agent)}"
        await self.platform.js.publish(subject, wire.encode(value))

    @contextlib.asynccontextmanager
    async def beating(self) -> AsyncIterator[None]:
        async def beat() -> None:
            while True:
                await self.put()
                await asyncio.sleep(self.heartbeat)

        task = asyncio.create_task(beat())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def test_old_processes_wait_until_every_live_router_serves_the_new_endpoints(
    platform, app_name, app_files, until
):
    await deploy(platform, app_name, app_files, version=2, sha="aaaaaaa")
    old = await web_pid(platform, app_name)
    fast, slow = FakeRouterKey(platform, "router-a"), FakeRouterKey(platform, "router-b.local")
    async with fast.beating(), slow.beating():
        await deploy(platform, app_name, app_files, version=3, sha="bbbbbbb")
        sequence = await endpoints_sequence(platform, app_name)
        fast.sequence = sequence
        await asyncio.sleep(1.5)  # the drain is 0.3 s: without the gate, it would be gone
        assert alive(old), "stopped while router-b.local still sent requests to it"

        slow.sequence = sequence
        await until(lambda: _async(not alive(old)), seconds=10)


async def test_a_router_whose_heartbeats_lapse_is_not_waited_for(
    platform, app_name, app_files, until
):
    await deploy(platform, app_name, app_files, version=2, sha="aaaaaaa")
    old = await web_pid(platform, app_name)
    dead = FakeRouterKey(platform, "router-dead", heartbeat=0.3)
    await dead.put()  # and never again: gone after three beats
    await deploy(platform, app_name, app_files, version=3, sha="bbbbbbb")
    await until(lambda: _async(not alive(old)), seconds=10)


@pytest.mark.parametrize("scheduler_overrides", [{"router_wait_seconds": 1.0}])
async def test_the_deadline_stops_old_processes_and_the_log_names_the_router_behind(
    platform, app_name, app_files, until
):
    lines: list[str] = []

    async def collect(msg):
        lines.append(wire.decode(msg.data, log_events.LogLine).message)

    sub = await platform.nc.subscribe(log_events.subject(app_name), cb=collect)
    await deploy(platform, app_name, app_files, version=2, sha="aaaaaaa")
    old = await web_pid(platform, app_name)
    stuck = FakeRouterKey(platform, "router-stuck")
    async with stuck.beating():
        await deploy(platform, app_name, app_files, version=3, sha="bbbbbbb")
        await until(lambda: _async(not alive(old)), seconds=10)
        await until(lambda: _async(any("router-stuck" in line for line in lines)), seconds=5)
    await sub.unsubscribe()
    (said,) = [line for line in lines if "router-stuck" in line]
    assert "did not take the new endpoints within 1 s" in said


async def test_a_router_that_left_is_not_waited_for(platform, app_name, app_files, until):
    await deploy(platform, app_name, app_files, version=2, sha="aaaaaaa")
    old = await web_pid(platform, app_name)
    gone = FakeRouterKey(platform, "router-gone", heartbeat=30.0)  # would count for 90 s
    await gone.put()
    kv = await platform.js.key_value(routers_kv.BUCKET)
    await kv.delete(routers_kv.key("router-gone"))
    await deploy(platform, app_name, app_files, version=3, sha="bbbbbbb")
    await until(lambda: _async(not alive(old)), seconds=10)


async def _async(value: bool) -> bool:
    return value
