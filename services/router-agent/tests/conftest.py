# mypy: allow-untyped-defs, allow-untyped-calls, allow-incomplete-defs
"""Fixtures: a private nats-server, a router agent in this event loop with its own nginx on
free ports, upstream processes started here, and KV written as the controller and the
scheduler write it.

Neither the controller nor the scheduler is part of these tests: `edge.route(...)` writes the
`Routes` value the controller would write and `edge.serve(...)` the `Endpoints` value of the
scheduler; tests read what the agent publishes (router events) and what nginx answers.
"""

import asyncio
import itertools
import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import nats
import nats.aio.client
import nats.js
import pytest

from deis_router_agent import service
from deis_router_agent.service import Router
from deis_router_agent.settings import RouterSettings
from deis_shared import wire
from deis_shared.events import router as router_events
from deis_shared.kv import endpoints as endpoints_kv, routes as routes_kv
from deis_testing import NatsServer, free_port

UPSTREAM = Path(__file__).with_name("upstream_server.py")


@dataclass
class Upstream:
    """An upstream process answering JSON that names it."""

    name: str
    port: int
    process: subprocess.Popen[bytes]


@pytest.fixture
def upstreams() -> Iterator[Callable[[str], Upstream]]:
    """`upstreams(name)`: start an upstream process; all are stopped after the test."""
    started: list[Upstream] = []

    def start(name: str) -> Upstream:
        port = free_port()
        process = subprocess.Popen(
            [sys.executable, str(UPSTREAM), str(port), name],
            stdout=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
        )
        assert process.stdout is not None
        assert process.stdout.readline() == b"ready\n"
        upstream = Upstream(name=name, port=port, process=process)
        started.append(upstream)
        return upstream

    try:
        yield start
    finally:
        for upstream in started:
            upstream.process.kill()
            upstream.process.wait()
            assert upstream.process.stdout is not None
            upstream.process.stdout.close()


@dataclass
class Edge:
    """The KV around a running router agent, its events, and HTTP through its nginx."""

    router: Router
    settings: RouterSettings
    nc: nats.aio.client.Client
    js: nats.js.JetStreamContext
    events: list[tuple[str, Any]] = field(default_factory=list)

    @property
    def http_port(self) -> int:
        return self.settings.http_port

    @property
    def https_port(self) -> int:
        return self.settings.https_port

    async def route(
        self,
        app: str,
        *,
        domains: list[str] | None = None,
        certificates: list[routes_kv.Certificate] | None = None,
        whitelist: list[str] | None = None,
        https_enforced: bool = False,
        maintenance: bool = False,
        routable: bool = True,
    ) -> None:
        """Write the app's routes as the controller would."""
        value = routes_kv.Routes(
            app=app,
            default_domain=f"{app}.{self.settings.platform_domain}",
            domains=domains or [],
            certificates=certificates or [],
            whitelist=whitelist or [],
            https_enforced=https_enforced,
            maintenance=maintenance,
            routable=routable,
        )
        await self.js.publish(f"$KV.{routes_kv.BUCKET}.{app}", wire.encode(value))

    async def serve(self, app: str, *ports: int, version: int = 1) -> int:
        """Write the app's endpoints as the scheduler would; the put's stream sequence."""
        value = endpoints_kv.Endpoints(
            app=app,
            version=version,
            upstreams=[endpoints_kv.Upstream(host="127.0.0.1", port=p) for p in ports],
        )
        ack = await self.js.publish(f"$KV.{endpoints_kv.BUCKET}.{app}", wire.encode(value))
        return ack.seq

    async def forget(self, app: str) -> None:
        """Delete the app's routes and endpoints."""
        for bucket in (routes_kv.BUCKET, endpoints_kv.BUCKET):
            await self.js.publish(f"$KV.{bucket}.{app}", b"", headers={"KV-Operation": "DEL"})

    async def settled(self) -> None:
        """Wait until every change the agent has received is live (or rejected)."""
        await _until(lambda: _true(self.router.applier.settled))

    async def on_event(self, msg: Any) -> None:
        self.events.append((msg.subject.rsplit(".", 1)[1], json.loads(msg.data)))

    def rejected(self) -> list[Any]:
        return [event for kind, event in self.events if kind == "rejected"]

    def applied(self) -> list[Any]:
        return [event for kind, event in self.events if kind == "applied"]

    async def get(self, host: str, path: str = "/", **kwargs: Any) -> httpx.Response:
        """GET through nginx's HTTP port with `Host: host`, on a fresh connection."""
        limits = httpx.Limits(max_keepalive_connections=0)
        async with httpx.AsyncClient(timeout=5, limits=limits) as http:
            return await http.get(
                f"http://127.0.0.1:{self.http_port}{path}",
                headers={"Host": host, **kwargs.pop("headers", {})},
                **kwargs,
            )


@pytest.fixture
def router_overrides() -> dict[str, Any]:
    """Settings a test overrides."""
    return {}


@pytest.fixture
async def edge(
    nats_server_factory: Callable[[], NatsServer],
    tmp_path: Path,
    router_overrides: dict[str, Any],
) -> AsyncIterator[Edge]:
    """A router agent on a private nats-server, with its nginx on free ports."""
    server = nats_server_factory()
    # A socket address holds 107 bytes: pytest's tmp_path can be longer.
    sockets = Path(tempfile.mkdtemp(prefix="deis-ra-"))
    values: dict[str, Any] = {
        "balancer_socket": sockets / "balancer.sock",
        "nats_url": server.url,
        "data_dir": tmp_path / "router",
        "http_port": free_port(),
        "https_port": free_port(),
        "agent_name": "test-router",
        "worker_shutdown_timeout": 5.0,
        "shutdown_timeout": 15.0,
        "reload_timeout": 10.0,
    }
    values.update(router_overrides)
    settings = RouterSettings(**values)
    try:
        async with service.running(settings) as router:
            nc = await nats.connect(server.url)
            js = nc.jetstream()
            running = Edge(router=router, settings=settings, nc=nc, js=js)
            sub = await nc.subscribe(router_events.ALL_SUBJECTS, cb=running.on_event)
            try:
                yield running
            finally:
                await sub.unsubscribe()
                await nc.close()
    finally:
        shutil.rmtree(sockets, ignore_errors=True)


async def _true(value: bool) -> bool:
    return value


async def _until(check: Callable[[], Awaitable[Any]], seconds: float = 20.0) -> Any:
    async with asyncio.timeout(seconds):
        for _ in itertools.count():
            result = await check()
            if result:
                return result
            await asyncio.sleep(0.02)
    raise AssertionError("unreachable")


@pytest.fixture
def until() -> Callable[..., Any]:
    """`await until(check)`: poll the coroutine function `check` until it returns a truthy value."""
    return _until
