"""Config change benchmark: `config:set` to the new value served through nginx, beside the floor.

Run by `bench/api.py`, or alone: `uv run python -m bench.rollout`. Starts the whole platform with
`deisctl up -d` (`bench.pushing.pushed_app`), pushes an app that answers its `GREETING`, then
`RUNS` times sets `GREETING` with the REST call `deis config:set` makes
(`POST /v2/apps/bench/config/`), which answers once the new release runs and nginx serves it.
For each change it measures, from sending the request:

- answered: the request returned (201);
- served: the first 200 with the new value through nginx, polled every 10 ms on a new
  connection from before the request is sent (it may come before the answer), or the answer
  to the GET sent right after the answer if that came first;
- stale: a GET sent right after the answer that still met the old value (must be none).

The floor, measured in the same run from the same changes: the rollout alone, as the bus shows
it: from `deis.events.release.bench.created` to `deis.events.deploy.bench.succeeded` for that
version, both timed on arrival at a subscriber of this process (the scheduler starts the new
process, waits for it to answer, stops the old one). Also printed: the scheduler's own
`duration_seconds` (from its `deploy.started`), the router's lag after `deploy.succeeded`
(`deis.events.router.applied` naming the version), and the app's start alone (`python app.py`
run directly until its first 200), the cost no rollout can avoid.
"""

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import nats
from nats.aio.msg import Msg

from bench.pushing import Pushed, free_port, pushed_app, run
from bench.recovery import environment, pid_of
from deis_shared import wire
from deis_shared.events import (
    deploy as deploy_events,
    release as release_events,
    router as router_events,
)

RUNS = 20

ECHO = """\
import http.server, os
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = os.environ.get("GREETING", "unset").encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
"""
"""The app: answers its `GREETING`."""

HOST = "bench.localhost"


@dataclass
class Bus:
    """Arrival times (monotonic) of the app's release, deploy and router events, by version."""

    created: dict[int, float] = field(default_factory=dict)
    succeeded: dict[int, float] = field(default_factory=dict)
    scheduler: dict[int, float] = field(default_factory=dict)
    """The scheduler's own `duration_seconds`."""
    applied: list[tuple[float, int]] = field(default_factory=list)
    """When the router said it serves which version of the app."""
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def deliver(self, msg: Msg) -> None:
        now = time.monotonic()
        if msg.subject == release_events.created_subject("bench"):
            created = wire.decode(msg.data, release_events.ReleaseCreated)
            self.created.setdefault(created.version, now)
        elif msg.subject == deploy_events.succeeded_subject("bench"):
            ok = wire.decode(msg.data, deploy_events.DeploySucceeded)
            self.succeeded.setdefault(ok.version, now)
            self.scheduler.setdefault(ok.version, ok.duration_seconds)
        elif msg.subject == router_events.APPLIED_SUBJECT:
            applied = wire.decode(msg.data, router_events.RouterApplied)
            self.applied.append((now, applied.versions.get("bench", 0)))
        self.arrived.set()

    async def settled(self, version: int) -> None:
        """Wait until the scheduler and the router reported `version`."""
        while version not in self.succeeded or self.served_by_router(version) is None:
            self.arrived.clear()
            await self.arrived.wait()

    def served_by_router(self, version: int) -> float | None:
        """When the router first said it serves `version` or a newer one."""
        return next((at for at, v in self.applied if v >= version), None)


@dataclass
class Change:
    answered: float
    served: float
    released: float
    """From sending the request to the arrival of `release.created`."""
    stale: bool
    rollout: float
    scheduler: float
    router_lag: float
    before_succeeded: float
    """First GET with the new value minus the arrival of `deploy.succeeded`."""
    before_applied: float
    """First GET with the new value minus the arrival of `router.applied`."""


async def get(url: str) -> str | None:
    """One GET on a new connection, as a new visitor makes; its body, None unless 200."""
    limits = httpx.Limits(max_keepalive_connections=0)
    async with httpx.AsyncClient(timeout=2, headers={"Host": HOST}, limits=limits) as http:
        try:
            answer = await http.get(url)
        except httpx.HTTPError:
            return None
        return answer.text if answer.status_code == 200 else None


async def first_served(url: str, text: str) -> float:
    """Poll every 10 ms until `url` answers `text`; when it first did."""
    while True:
        if await get(url) == text:
            return time.monotonic()
        await asyncio.sleep(0.01)


async def change(api: httpx.AsyncClient, url: str, bus: Bus, n: int) -> Change:
    value = f"hello {n}"
    watch = asyncio.create_task(first_served(url, value))
    await asyncio.sleep(0.02)  # the watch's first GET is under way
    began = time.monotonic()
    answer = await api.post("/v2/apps/bench/config/", json={"values": {"GREETING": value}})
    answered = time.monotonic()
    if answer.status_code != 201:
        watch.cancel()
        raise RuntimeError(f"config:set answered {answer.status_code}: {answer.text}")
    stale = await get(url) != value
    checked = time.monotonic()
    served = await asyncio.wait_for(watch, 30)
    if not stale:  # that GET may have seen it before the watch's next one
        served = min(served, checked)
    version = max(v for v, at in bus.created.items() if at >= began)
    async with asyncio.timeout(10):
        await bus.settled(version)
    applied = bus.served_by_router(version) or 0.0
    return Change(
        answered=answered - began,
        served=served - began,
        released=bus.created[version] - began,
        stale=stale,
        rollout=bus.succeeded[version] - bus.created[version],
        scheduler=bus.scheduler[version],
        router_lag=applied - bus.succeeded[version],
        before_succeeded=served - bus.succeeded[version],
        before_applied=served - applied,
    )


async def platform_runs(app: Pushed) -> list[Change]:
    nats_url = environment(pid_of(app.data, "controller"))["DEIS_NATS_URL"]
    bus = Bus()
    nc = await nats.connect(nats_url)
    try:
        for subject in (
            release_events.created_subject("bench"),
            deploy_events.app_subjects("bench"),
            router_events.APPLIED_SUBJECT,
        ):
            await nc.subscribe(subject, cb=bus.deliver)
        await nc.flush()
        user = {"username": "bench", "password": "bench-pw-123"}  # pushed_app's user
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{app.api}", timeout=60) as api:
            token = (await api.post("/v2/auth/login/", json=user)).json()["token"]
            api.headers["Authorization"] = f"token {token}"
            url = f"http://127.0.0.1:{app.http}/"
            return [await change(api, url, bus, n) for n in range(1, RUNS + 1)]
    finally:
        await nc.close()


def app_start(copy: Path, n: int) -> float:
    """`python app.py` run directly with a new `GREETING`: seconds to its first 200 with it."""
    port, value = free_port(), f"direct {n}"
    env = {"PATH": os.environ["PATH"], "PORT": str(port), "GREETING": value}
    began = time.monotonic()
    process = subprocess.Popen([sys.executable, "app.py"], cwd=copy, env=env)
    try:
        seen = asyncio.run(first_served(f"http://127.0.0.1:{port}/", value))
    finally:
        process.terminate()
        process.wait()
    return seen - began


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))] * 1000


def line(label: str, values: list[float], note: str = "") -> str:
    p50, p99 = percentile(values, 0.5), percentile(values, 0.99)
    return f"{label:46} {p50:8.0f} {p99:8.0f}  {note}".rstrip()


def report(changes: list[Change], starts: list[float]) -> None:
    def of(pick: Callable[[Change], float]) -> list[float]:
        return [pick(c) for c in changes]

    served, rollout = of(lambda c: c.served), of(lambda c: c.rollout)
    gaps = ", ".join(f"{(c.served - c.answered) * 1000:+.0f}" for c in changes)
    stale = sum(c.stale for c in changes)
    print(f"config:set GREETING -> new value through nginx, N={len(changes)} (p99: the slowest)")
    print(f"{'':46} {'p50 ms':>8} {'p99 ms':>8}")
    print(line("config:set answered (201)", of(lambda c: c.answered)))
    print(line("first GET with the new value", served))
    print(line("  request sent to release.created arriving", of(lambda c: c.released)))
    print(line("floor: rollout alone", rollout, "(release.created -> deploy.succeeded)"))
    print(line("  scheduler's own duration_seconds", of(lambda c: c.scheduler)))
    print(line("  router applied after deploy.succeeded", of(lambda c: c.router_lag)))
    print(line("  the app started directly, to its first 200", starts))
    print(line("first new GET minus deploy.succeeded arriving", of(lambda c: c.before_succeeded)))
    print(line("first new GET minus router.applied arriving", of(lambda c: c.before_applied)))
    ratio = percentile(served, 0.5) / percentile(rollout, 0.5)
    print(f"ratio of served to the floor (p50)             {ratio:8.2f}x")
    print(f"served minus answered, ms (negative: served before the answer): {gaps}")
    print(f"GETs right after the answer that met the old value: {stale} of {len(changes)}")


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="deis-bench-rollout-", dir="/tmp"))
    work.chmod(0o755)
    try:
        with pushed_app(work) as app:
            (app.copy / "app.py").write_text(ECHO)
            run("git", "commit", "-qam", "echo GREETING", cwd=app.copy, env=app.env)
            run("git", "push", "-q", app.remote, "main", cwd=app.copy, env=app.env)
            changes = asyncio.run(platform_runs(app))
            starts = [app_start(app.copy, n) for n in range(1, RUNS + 1)]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report(changes, starts)


if __name__ == "__main__":
    main()
