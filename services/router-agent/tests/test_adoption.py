# mypy: allow-untyped-defs, allow-untyped-calls, allow-incomplete-defs
"""Restarting the agent drops no request: the next agent of the data dir adopts the nginx the
last one left running (killed or stopped with SIGTERM), reloads and supervises it, and never
adopts or signals an nginx (or anything else) that is not its data dir's.

Each agent is a process of its own (`python -m deis_router_agent.main`), as in production.
"""

import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import nats
import nats.aio.client
import nats.js
import nats.js.errors
import pytest

from deis_shared import wire
from deis_shared.events import router as router_events
from deis_shared.kv import (
    challenges as challenges_kv,
    endpoints as endpoints_kv,
    routers as routers_kv,
    routes as routes_kv,
)
from deis_testing import ServiceProcess, free_port

HOST = "steady.localhost"


@dataclass
class Agents:
    """Router agents started one after another on one data dir, and the KV and events around."""

    env: dict[str, str]
    data_dir: Path
    http_port: int
    logs: Path
    nc: nats.aio.client.Client | None = None
    js: nats.js.JetStreamContext | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    started: list[ServiceProcess] = field(default_factory=list)

    async def start(self) -> ServiceProcess:
        """Start an agent and wait until its first revision is live."""
        health = free_port()
        env = {**self.env, "DEIS_HEALTH_PORT": str(health)}
        log = self.logs / f"agent-{len(self.started)}.log"
        agent = ServiceProcess("deis_router_agent.main", env=env, port=health, log=log)
        if self.nc is None:
            self.nc = await nats.connect(self.env["DEIS_NATS_URL"])
            self.js = self.nc.jetstream()
            await self.nc.subscribe(router_events.APPLIED_SUBJECT, cb=self._on_applied)
        # Any event from now on is this agent's (the one before stopped, or was killed), and
        # revision numbers may repeat across agents: they go on from the newest release on
        # disk, which revisions of endpoints alone do not write.
        seen = len(self.events)
        self.started.append(agent)
        await asyncio.to_thread(agent.start)
        await until(lambda: len(self.events) > seen)
        return agent

    async def member(self) -> routers_kv.RouterMember | None:
        """The agent's key in KV `routers`, if it has one."""
        assert self.js is not None
        kv = await self.js.key_value(routers_kv.BUCKET)
        try:
            entry = await kv.get(routers_kv.key(self.env["DEIS_AGENT_NAME"]))
        except nats.js.errors.KeyNotFoundError:  # KeyDeletedError too
            return None
        return wire.decode(entry.value, routers_kv.RouterMember) if entry.value else None

    async def applied(self, app: str) -> bool:
        """Whether a revision naming `app` went live."""
        return any(app in event["apps"] for event in self.events)

    async def _on_applied(self, msg: Any) -> None:
        self.events.append(json.loads(msg.data))

    async def serve(self, app: str, port: int, *, version: int = 1) -> None:
        """Write the app's routes (once) and endpoints, as the controller and scheduler would."""
        assert self.js is not None
        routes = routes_kv.Routes(
            app=app,
            default_domain=f"{app}.localhost",
            domains=[],
            https_enforced=False,
            maintenance=False,
            routable=True,
        )
        await self.js.publish(f"$KV.{routes_kv.BUCKET}.{app}", wire.encode(routes))
        value = endpoints_kv.Endpoints(
            app=app,
            version=version,
            upstreams=[endpoints_kv.Upstream(host="127.0.0.1", port=port)],
        )
        await self.js.publish(f"$KV.{endpoints_kv.BUCKET}.{app}", wire.encode(value))

    async def served_by(self, name: str, *, host: str = HOST) -> bool:
        """Whether a fresh connection for `host` is answered by upstream `name`."""
        limits = httpx.Limits(max_keepalive_connections=0)
        async with httpx.AsyncClient(timeout=5, limits=limits) as http:
            with contextlib.suppress(httpx.HTTPError):
                response = await http.get(
                    f"http://127.0.0.1:{self.http_port}/", headers={"Host": host}
                )
                return response.status_code == 200 and response.json()["name"] == name
        return False

    def nginx_pid(self) -> int:
        return int((self.data_dir / "nginx.pid").read_text())

    def nginx_pid_now(self) -> int | None:
        """The pid file's pid, or None while there is none (nginx writes it as it starts)."""
        with contextlib.suppress(OSError, ValueError):
            return self.nginx_pid()
        return None


async def until(check: Callable[[], Any], seconds: float = 30.0) -> Any:
    """Poll `check` (a function, or one returning an awaitable) until it is truthy."""
    async with asyncio.timeout(seconds):
        while True:
            result = check()
            if isinstance(result, Awaitable):
                result = await result
            if result:
                return result
            await asyncio.sleep(0.02)


def alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie, dead but not reaped, does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def group(pgid: int) -> list[int]:
    """The live processes of process group `pgid` (an nginx master's and its workers)."""
    found = []
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError, ValueError):
            stat = (entry / "stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            if int(fields[2]) == pgid and fields[0] != "Z":
                found.append(int(entry.name))
    return found


def parent(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat[stat.rindex(")") + 2 :].split()[1])


async def stop(agent: ServiceProcess, sig: signal.Signals, *, grace: float = 20.0) -> int:
    """Send `sig` to the agent and wait for it to exit; its exit code."""
    process = agent.process
    assert process is not None
    process.send_signal(sig)
    return await asyncio.to_thread(process.wait, grace)


@pytest.fixture
async def agents(nats_server_factory, tmp_path) -> AsyncIterator[Agents]:
    """Agents on one data dir and one nginx port; whatever runs at the end is stopped."""
    server = nats_server_factory()
    sockets = Path(tempfile.mkdtemp(prefix="deis-ra-"))  # a socket address holds 107 bytes
    http_port = free_port()
    env = {
        **os.environ,
        "DEIS_NATS_URL": server.url,
        "DEIS_DATA_DIR": str(tmp_path / "router"),
        "DEIS_BALANCER_SOCKET": str(sockets / "balancer.sock"),
        "DEIS_HTTP_PORT": str(http_port),
        "DEIS_HTTPS_PORT": str(free_port()),
        "DEIS_AGENT_NAME": "restarted",
        "DEIS_WORKER_SHUTDOWN_TIMEOUT": "5",
        "DEIS_SHUTDOWN_TIMEOUT": "15",
        "DEIS_LOG_JSON": "false",
    }
    running = Agents(env=env, data_dir=tmp_path / "router", http_port=http_port, logs=tmp_path)
    try:
        yield running
    finally:
        if running.nc is not None:
            await running.nc.close()
        for agent in running.started:
            if agent.process is not None and agent.process.poll() is None:
                await stop(agent, signal.SIGUSR1)
        with contextlib.suppress(OSError, ValueError):
            master = running.nginx_pid()
            for pid in group(master):  # an nginx left by a failed test
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(sockets, ignore_errors=True)


@dataclass
class Load:
    """Requests through nginx until stopped: one loop reusing keep-alive connections, one
    opening a connection per request. Every request must be answered 200 by an upstream.

    The keep-alive loop does what HTTP clients do (RFC 9112, 9.3.1; browsers, Go's): a GET
    whose reused connection closed before any byte of a response came is sent again, once. A
    reload's old workers close their idle keep-alive connections (and those of the requests
    they finish): a request racing that close was never seen by nginx. Those are counted in
    `resent`; a second failure is a failure.
    """

    port: int
    answers: dict[str, int] = field(default_factory=lambda: {"keep-alive": 0, "fresh": 0})
    failures: list[str] = field(default_factory=list)
    resent: int = 0
    stopping: asyncio.Event = field(default_factory=asyncio.Event)

    async def _loop(self, kind: str, limits: httpx.Limits) -> None:
        url = f"http://127.0.0.1:{self.port}/"
        async with httpx.AsyncClient(timeout=10, limits=limits) as http:
            while not self.stopping.is_set():
                try:
                    try:
                        response = await http.get(url, headers={"Host": HOST})
                    except httpx.RemoteProtocolError as error:
                        if kind != "keep-alive" or "without sending a response" not in str(error):
                            raise
                        self.resent += 1
                        response = await http.get(url, headers={"Host": HOST})
                except httpx.HTTPError as error:
                    self.failures.append(f"{kind}: {error!r}")
                    continue
                if response.status_code != 200:
                    self.failures.append(f"{kind}: {response.status_code} {response.text[:80]}")
                self.answers[kind] += 1

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator["Load"]:
        loops = [
            asyncio.create_task(self._loop("keep-alive", httpx.Limits()), name="keep-alive"),
            asyncio.create_task(
                self._loop("fresh", httpx.Limits(max_keepalive_connections=0)), name="fresh"
            ),
        ]
        try:
            yield self
        finally:
            self.stopping.set()
            await asyncio.gather(*loops)

    async def more(self, count: int = 20) -> None:
        """Wait until each loop got `count` more answers."""
        before = dict(self.answers)
        await until(lambda: all(self.answers[k] >= before[k] + count for k in before))


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["killed", "stopped"])
async def test_a_restarted_agent_adopts_nginx_and_no_request_fails(agents, upstreams, sig):
    blue, green = upstreams("blue"), upstreams("green")
    first = await agents.start()
    await agents.serve("steady", blue.port)
    await until(lambda: agents.served_by("blue"))
    # Live, not only served by a new worker: the old ones (without the app) stopped accepting.
    await until(lambda: agents.applied("steady"))
    master = agents.nginx_pid()
    async with Load(agents.http_port).running() as load:
        await load.more()
        if sig is signal.SIGKILL:
            first.kill()
        else:
            assert await stop(first, sig) == 0
        assert alive(master)
        assert await agents.member() is not None  # it serves on: the scheduler waits for it
        await load.more()  # served by the nginx without an agent
        await agents.start()  # nothing changed meanwhile: nginx is taken over as it runs
        assert agents.nginx_pid() == master
        await load.more()
        await agents.serve("steady", green.port, version=2)  # a deploy after the restart
        await until(lambda: agents.served_by("green"))
        await load.more()
    assert load.failures == []
    assert load.resent == 0  # no reload: no keep-alive connection was closed
    assert agents.nginx_pid() == master
    assert parent(master) != agents.started[-1].process.pid  # adopted, not started again
    log = (agents.logs / "agent-1.log").read_text()
    assert f"adopted nginx {master}" in log
    assert "as nginx serves it (no reload)" in log
    assert "nginx started" not in log


async def test_routes_changed_while_no_agent_ran_reach_the_adopted_nginx(agents, upstreams):
    web = upstreams("web")
    first = await agents.start()
    await agents.serve("steady", web.port)
    await until(lambda: agents.served_by("web"))
    master = agents.nginx_pid()
    first.kill()
    await agents.serve("later", web.port)  # a new app while no agent ran: not in nginx yet
    await agents.start()
    await until(lambda: agents.served_by("web", host="later.localhost"))
    assert agents.nginx_pid() == master
    log = (agents.logs / "agent-1.log").read_text()
    assert f"adopted nginx {master}" in log
    assert "no reload" in log  # the new app's routes went to its memory: no reload needed


async def test_challenges_changed_while_no_agent_ran_reach_the_adopted_nginx(agents):
    token, gone = "t" * 22, "g" * 22

    async def put(value):
        assert agents.js is not None
        challenge = challenges_kv.Challenge(
            token=value, key_authorization=f"{value}.k", app="steady", domain="steady.localhost"
        )
        await agents.js.publish(f"$KV.{challenges_kv.BUCKET}.{value}", wire.encode(challenge))

    async def answer(value):
        limits = httpx.Limits(max_keepalive_connections=0)
        async with httpx.AsyncClient(timeout=5, limits=limits) as http:
            url = f"http://127.0.0.1:{agents.http_port}{challenges_kv.PATH_PREFIX}{value}"
            response = await http.get(url, headers={"Host": "acme.example.com"})
            return response.status_code, response.text

    first = await agents.start()
    await put(gone)
    await until(lambda: _is(answer(gone), (200, f"{gone}.k")))
    master = agents.nginx_pid()
    first.kill()
    assert agents.js is not None
    await agents.js.publish(
        f"$KV.{challenges_kv.BUCKET}.{gone}", b"", headers={"KV-Operation": "DEL"}
    )
    await put(token)
    await agents.start()  # takes nginx over as it runs: its shared dict still holds `gone`
    await until(lambda: _is(answer(token), (200, f"{token}.k")))
    assert await answer(gone) == (404, "no such challenge\n")
    assert agents.nginx_pid() == master


async def _is(awaitable, expected):
    return await awaitable == expected


async def test_the_stop_signal_stops_nginx_too(agents, upstreams):
    web = upstreams("web")
    agent = await agents.start()
    await agents.serve("steady", web.port)
    await until(lambda: agents.served_by("web"))
    master = agents.nginx_pid()
    assert len(group(master)) >= 2  # the master and its worker
    await until(agents.member)
    assert await stop(agent, signal.SIGUSR1) == 0
    assert group(master) == []
    assert await agents.member() is None  # gone for good: nobody waits for it
    assert not (agents.data_dir / "nginx.pid").exists()  # nginx removes it as it exits


async def test_an_adopted_nginx_that_dies_is_started_again_with_every_endpoint(agents, upstreams):
    web = upstreams("web")
    first = await agents.start()
    await agents.serve("steady", web.port)
    await until(lambda: agents.served_by("web"))
    master = agents.nginx_pid()
    first.kill()
    second = await agents.start()
    assert agents.nginx_pid() == master
    os.kill(master, signal.SIGKILL)
    await until(lambda: agents.nginx_pid_now() not in (None, master))
    assert parent(agents.nginx_pid()) == second.process.pid  # its child now
    await until(lambda: agents.served_by("web"))  # the balancer was sent the endpoints again
    assert group(master) == []  # the adopted one's workers are gone


SLEEPER = "import time; print('ready', flush=True); time.sleep(120)"


@pytest.mark.parametrize("foreign", ["not-nginx", "another-nginx"])
async def test_a_pid_file_naming_another_process_is_neither_adopted_nor_signalled(
    agents, upstreams, nats_server_factory, tmp_path, foreign
):
    web = upstreams("web")
    other: subprocess.Popen[str] | None = None
    others: Agents | None = None
    try:
        if foreign == "not-nginx":
            other = subprocess.Popen(
                [sys.executable, "-c", SLEEPER], stdout=subprocess.PIPE, text=True
            )
            assert other.stdout is not None
            assert other.stdout.readline() == "ready\n"
            pid = other.pid
        else:  # the nginx of another data dir
            env = {
                **agents.env,
                "DEIS_DATA_DIR": str(tmp_path / "other"),
                "DEIS_HTTP_PORT": str(free_port()),
                "DEIS_HTTPS_PORT": str(free_port()),
                "DEIS_BALANCER_SOCKET": str(
                    Path(agents.env["DEIS_BALANCER_SOCKET"]).parent / "o.sock"
                ),
            }
            others = Agents(env=env, data_dir=tmp_path / "other", http_port=0, logs=tmp_path / "o")
            others_agent = await others.start()
            pid = others.nginx_pid()
            assert await stop(others_agent, signal.SIGTERM) == 0  # its nginx runs on
        agents.data_dir.mkdir(parents=True)
        (agents.data_dir / "nginx.pid").write_text(f"{pid}\n")
        await agents.start()
        await agents.serve("steady", web.port)
        await until(lambda: agents.served_by("web"))
        assert agents.nginx_pid() != pid
        assert parent(agents.nginx_pid()) == agents.started[-1].process.pid
        assert alive(pid)
    finally:
        if other is not None:
            other.kill()
            other.wait()
            assert other.stdout is not None
            other.stdout.close()
        if others is not None:
            if others.nc is not None:
                await others.nc.close()
            with contextlib.suppress(OSError, ValueError):
                for member in group(others.nginx_pid()):
                    os.kill(member, signal.SIGKILL)
