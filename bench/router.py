"""Router benchmark: endpoint changes (no reload) and domain changes (a reload) to served
traffic at 1,000 and 10,000 apps, reload cost by size, nginx's overhead.

Run: `uv run python bench/router.py`. Starts its own nats-server, a router agent in this
process (its own nginx on free ports) and two upstream processes (stdlib `http.server`), and
writes `routes`/`endpoints` to KV as the controller and the scheduler would. Prints:

- render + validate + reload of one revision with 10, 100 and 1000 apps (every app
  re-rendered), and `nginx -t` alone at that size;
- with those 1,000 apps routed: endpoint change -> served, from writing new endpoints of one
  app (flipping between the two upstreams) until a request through nginx answers from the new
  one, p50/p99 over 100 changes (target p99 <= 20 ms), next to the agent's own
  `router.applied` latency and the reloads they cost (none: the Lua balancer takes them);
- in the same run, the reload path: domain change -> served, from writing the app's routes
  with a new custom domain until a request for that domain answers, p50/p99 over 10 changes,
  next to `router.applied` (which also waits until old workers stop accepting: nginx's master
  tells them so only 100 ms after it started the new ones, a fixed `ngx_msleep(100)`), and the
  median of each step of those revisions (`Applier.timings`: render of the changed app,
  write of the release, `nginx -t`, reload until the new revision answers, old workers
  draining, pruning), beside 3 more domain changes whose release has every app's file written
  (as before unchanged apps' files were hard links to the live release's);
- requests/s through nginx and direct to the same upstream, same client, same run (the
  client is a Python keep-alive loop, so both figures are client-bound; the ratio is the point);
- then with 10,000 apps routed: 20 endpoint changes and 2 domain changes, with the same
  breakdown, beside every app's file written into a scratch release: the agent's share of a
  domain change should grow with the changed app, not with the number of apps. nginx itself
  parses every server block at `nginx -t` and again at the reload: at 10,000 apps that is
  tens of seconds each (more than the default `reload_timeout`, raised here), most of this
  run's few minutes.
"""

import asyncio
import contextlib
import itertools
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from unittest import mock

import nats

from deis_router_agent import service
from deis_router_agent.app.table import Batch
from deis_router_agent.nginx import checking
from deis_router_agent.settings import RouterSettings
from deis_shared import wire
from deis_shared.events import router as router_events
from deis_shared.kv import endpoints as endpoints_kv, routes as routes_kv
from deis_testing import NatsServer, free_port

UPSTREAM = """\
import http.server, sys
NAME = sys.argv[2].encode()
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    def do_GET(self):
        self.send_response(200); self.send_header("Content-Length", str(len(NAME)))
        self.end_headers(); self.wfile.write(NAME)
    def log_message(self, *a): pass
s = http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H)
s.daemon_threads = True
sys.stdout.write("ready\\n"); sys.stdout.flush()
s.serve_forever()
"""
CHANGES = 100
DOMAIN_CHANGES = 10
SIZES = (10, 100, 1000)
LARGE = 10_000
FULL_WRITES = 3
LARGE_CHANGES = 20
LARGE_DOMAIN_CHANGES = 2
LARGE_FULL_WRITES = 0
DOMAIN_SECONDS = 300.0
"""How long a domain change may take to be served (at 10,000 apps nginx takes tens of seconds
to parse its configuration, twice: `nginx -t` and the reload)."""
STEPS = ("render", "write", "check", "reload", "drain", "prune")
LOAD_SECONDS = 3.0
CONCURRENCY = 8


def routes(app: str, *domains: str) -> bytes:
    value = routes_kv.Routes(
        app=app,
        default_domain=f"{app}.localhost",
        domains=list(domains),
        https_enforced=False,
        maintenance=False,
        routable=True,
    )
    return wire.encode(value)


def endpoints(app: str, port: int, version: int) -> bytes:
    upstream = endpoints_kv.Upstream(host="127.0.0.1", port=port)
    return wire.encode(endpoints_kv.Endpoints(app=app, version=version, upstreams=[upstream]))


async def fetch(port: int, host: str) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(f"GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        response = await reader.read()
    finally:
        await _closed(writer)
    return response.partition(b"\r\n\r\n")[2]


async def _closed(writer: asyncio.StreamWriter) -> None:
    """Close a connection nginx may have reset already (after `keepalive_requests`)."""
    writer.close()
    with contextlib.suppress(ConnectionError):
        await writer.wait_closed()


async def load(port: int, host: str) -> float:
    """Requests per second from CONCURRENCY keep-alive connections for LOAD_SECONDS."""
    count = 0
    request = f"GET / HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    deadline = time.perf_counter() + LOAD_SECONDS

    async def client() -> None:
        nonlocal count
        while time.perf_counter() < deadline:  # nginx closes after `keepalive_requests` (1000)
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            try:
                while time.perf_counter() < deadline:
                    writer.write(request)
                    head = await reader.readuntil(b"\r\n\r\n")
                    length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                    await reader.readexactly(length)
                    count += 1
            except (asyncio.IncompleteReadError, ConnectionError):
                continue  # nginx ended the connection: open another
            finally:
                await _closed(writer)

    await asyncio.gather(*(client() for _ in range(CONCURRENCY)))
    return count / LOAD_SECONDS


async def until(
    check: Callable[[], Awaitable[bool]], *, seconds: float = 60, interval: float = 0.005
) -> None:
    async with asyncio.timeout(seconds):
        for _ in itertools.count():
            if await check():
                return
            await asyncio.sleep(interval)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


async def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="deis-bench-router-"))
    server = NatsServer()
    server.start()
    script = root / "upstream.py"
    script.write_text(UPSTREAM)
    ports = [free_port(), free_port()]
    upstreams = []
    try:
        for port, name in zip(ports, ("blue", "green"), strict=True):
            process = subprocess.Popen(
                [sys.executable, str(script), str(port), name], stdout=subprocess.PIPE
            )
            assert process.stdout is not None
            process.stdout.readline()
            upstreams.append(process)
        settings = RouterSettings(
            nats_url=server.url,
            data_dir=root / "router",
            http_port=free_port(),
            https_port=free_port(),
            access_log=False,
            nginx_user="",  # workers as root on purpose: the temp dir is a private mkdtemp
            log_level="WARNING",
            agent_name="bench",
            reload_timeout=DOMAIN_SECONDS,  # a reload of 10,000 apps outlasts the default
        )
        async with service.running(settings) as router:
            nc = await nats.connect(server.url)
            js = nc.jetstream()
            applied: list[float] = []

            async def on_applied(msg: object) -> None:
                applied.append(json.loads(msg.data)["latency_seconds"])  # type: ignore[attr-defined]

            await nc.subscribe(router_events.APPLIED_SUBJECT, cb=on_applied)

            async def settled() -> bool:
                return router.applier.settled

            print("one revision with every app re-rendered (render, write, nginx -t, reload)")
            created = 0
            for size in SIZES:
                for index in range(created, size):
                    app = f"app{index}"
                    await js.publish(f"$KV.{routes_kv.BUCKET}.{app}", routes(app))
                    await js.publish(
                        f"$KV.{endpoints_kv.BUCKET}.{app}", endpoints(app, ports[0], 1)
                    )
                created = max(created, size)

                async def loaded(size: int = size) -> bool:
                    return len(router.table.routes) >= size and router.applier.settled

                await until(loaded, seconds=60)
                apps = frozenset(router.table.routes)
                timings = []
                for _ in range(3):
                    router.applier.good = {}  # every file new: a release and a reload
                    started = time.perf_counter()
                    await router.applier.apply(Batch(apps=apps, since=started))
                    timings.append(time.perf_counter() - started)
                layout = router.ctx.layout
                release = router.applier.release
                assert release is not None
                started = time.perf_counter()
                await checking.check(
                    binary=router.ctx.binary, prefix=layout.root, conf=layout.conf(release)
                )
                check = time.perf_counter() - started
                print(
                    f"{size:5d} apps   {statistics.median(timings) * 1000:7.1f} ms"
                    f"   (nginx -t alone {check * 1000:6.1f} ms; median of 3)"
                )

            await js.publish(f"$KV.{routes_kv.BUCKET}.bench", routes("bench"))
            await js.publish(f"$KV.{endpoints_kv.BUCKET}.bench", endpoints("bench", ports[0], 1))

            async def first() -> bool:
                return await fetch(settings.http_port, "bench.localhost") == b"blue"

            await until(first)
            await until(settled)
            version = 1
            domains = itertools.count()

            async def endpoint_changes(count: int) -> None:
                nonlocal version
                applied.clear()
                reloads = router.applier.reloads
                served: list[float] = []
                for _ in range(count):
                    version += 1
                    wanted = (b"blue", b"green")[version % 2]
                    started = time.perf_counter()
                    await js.publish(
                        f"$KV.{endpoints_kv.BUCKET}.bench",
                        endpoints("bench", ports[version % 2], version),
                    )

                    async def moved(wanted: bytes = wanted) -> bool:
                        return await fetch(settings.http_port, "bench.localhost") == wanted

                    await until(moved, interval=0.001)
                    served.append(time.perf_counter() - started)
                    await until(settled)
                ms = [s * 1000 for s in served]
                reported = [s * 1000 for s in applied]
                print(
                    f"{len(router.table.routes)} apps routed; {count} endpoint changes of one,"
                    " one after another"
                )
                print(
                    f"endpoint change -> served   p50 {percentile(ms, 0.5):6.1f} ms"
                    f"   p99 {percentile(ms, 0.99):6.1f} ms   (target p99 <= 20 ms)"
                )
                print(
                    f"  router.applied latency    p50 {percentile(reported, 0.5):6.1f} ms"
                    f"   p99 {percentile(reported, 0.99):6.1f} ms   ({len(reported)} revisions, "
                    f"{router.applier.reloads - reloads} reloads)"
                )

            async def domain_changes(count: int, *, full: int) -> None:
                """`count` domain changes, then `full` more with every app's file written."""
                apps_routed = len(router.table.routes)
                print(f"{apps_routed} apps routed; {count} domain changes of one (reloads)")
                applied.clear()
                served, steps = await reloads_of(count)
                ms = [s * 1000 for s in served]
                reported = [s * 1000 for s in applied]
                print(
                    f"domain change -> served     p50 {percentile(ms, 0.5):6.1f} ms"
                    f"   p99 {percentile(ms, 0.99):6.1f} ms"
                )
                print(
                    f"  router.applied latency    p50 {percentile(reported, 0.5):6.1f} ms"
                    f"   p99 {percentile(reported, 0.99):6.1f} ms   ({len(reported)} revisions)"
                )
                print(f"  one revision, medians (ms): {steps}")
                layout = router.ctx.layout
                write = layout.write_release
                if not full:  # the write alone, into a scratch release
                    started = time.perf_counter()
                    await asyncio.to_thread(
                        write, revision=10**9, main="", apps=list(router.applier.good.values())
                    )
                    seconds = time.perf_counter() - started
                    await asyncio.to_thread(layout.discard, 10**9)
                    print(f"  baseline, every app's file written: write {seconds * 1000:.1f} ms")
                    return

                def write_all(**kwargs: Any) -> Path:
                    kwargs.pop("base")  # every app's file written, as before linking
                    return write(**kwargs)

                with mock.patch.object(layout, "write_release", write_all):
                    served, steps = await reloads_of(full)
                ms = [s * 1000 for s in served]
                print(
                    f"  baseline, {full} more with every app's file written: served p50"
                    f" {percentile(ms, 0.5):.1f} ms; medians (ms): {steps}"
                )

            async def reloads_of(count: int) -> tuple[list[float], str]:
                """Seconds to served of `count` domain changes, and their steps' medians."""
                wanted = (b"blue", b"green")[version % 2]
                served: list[float] = []
                steps: dict[str, list[float]] = {step: [] for step in STEPS}
                for _ in range(count):
                    domain = f"d{next(domains)}.example.com"
                    started = time.perf_counter()
                    await js.publish(f"$KV.{routes_kv.BUCKET}.bench", routes("bench", domain))

                    async def routed(domain: str = domain) -> bool:
                        return await fetch(settings.http_port, domain) == wanted

                    await until(routed, seconds=DOMAIN_SECONDS, interval=0.001)
                    served.append(time.perf_counter() - started)
                    await until(settled, seconds=DOMAIN_SECONDS)
                    for step, seconds in router.applier.timings.items():
                        steps.setdefault(step, []).append(seconds)
                medians = "  ".join(
                    f"{step} {statistics.median(values) * 1000:.1f}"
                    for step, values in steps.items()
                    if values
                )
                return served, medians

            await endpoint_changes(CHANGES)
            await domain_changes(DOMAIN_CHANGES, full=FULL_WRITES)

            direct = await load(ports[0], "bench.localhost")
            proxied = await load(settings.http_port, "app1.localhost")
            print(f"requests/s, {CONCURRENCY} keep-alive connections, {LOAD_SECONDS:.0f} s each")
            print(f"direct to the upstream   {direct:8.0f}/s")
            print(f"through nginx            {proxied:8.0f}/s   (ratio {proxied / direct:.2f})")

            started = time.perf_counter()
            for index in range(created, LARGE):  # unacknowledged: a few batches, not dozens
                app = f"app{index}"
                await nc.publish(f"$KV.{routes_kv.BUCKET}.{app}", routes(app))
                await nc.publish(f"$KV.{endpoints_kv.BUCKET}.{app}", endpoints(app, ports[0], 1))
            await nc.flush()

            async def grown() -> bool:
                return len(router.table.routes) > LARGE and router.applier.settled

            await until(grown, seconds=3 * DOMAIN_SECONDS, interval=0.05)
            print(f"grown to {LARGE} apps in {time.perf_counter() - started:.1f} s")
            await endpoint_changes(LARGE_CHANGES)
            await domain_changes(LARGE_DOMAIN_CHANGES, full=LARGE_FULL_WRITES)
            await nc.close()
    finally:
        for process in upstreams:
            process.kill()
            process.wait()
            if process.stdout is not None:
                process.stdout.close()
        server.close()


if __name__ == "__main__":
    asyncio.run(main())
