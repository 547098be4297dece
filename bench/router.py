"""Router benchmark: endpoint, domain and certificate changes to served traffic at 1,000 and
10,000 apps, none of them a reload; what a reload and a full send cost by size; nginx's
overhead.

Run: `uv run python bench/router.py`. Starts its own nats-server, a router agent in this
process (its own nginx on free ports) and two upstream processes (stdlib `http.server`), and
writes `routes`/`endpoints` to KV as the controller and the scheduler would. One app in
CERT_EVERY has a certificate (self-signed, for its default domain), so nginx's route table
holds certificates too. nginx's configuration names no app: every app's domains,
certificates, whitelist and maintenance are lines of a Lua shared dict sent through the
agent's socket, like its endpoints. At 1,000 apps, then at 10,000, it prints:

- endpoint change -> served: from writing new endpoints of one app (flipping between the two
  upstreams) until a request through nginx answers from the new one, p50/p99 (100 changes at
  1,000 apps, target p99 <= 20 ms; 20 at 10,000), next to the agent's own `router.applied`
  latency, the reloads they cost (none) and the socket requests per change;
- domain change -> served: from writing the app's routes with a new custom domain until a
  request for that domain answers, p50/p99 (50 changes, then 20), with the same figures, the
  reloads it cost (must be 0), the medians of the applier's steps (`Applier.timings`: `render`
  of the changed app, `send` until nginx holds it), and beside it, as the baseline, the
  endpoint changes of the same run: a domain change should cost what an endpoint change costs;
- at 1,000 apps only: certificate change -> served, from writing an app's routes with a new
  certificate until a TLS handshake naming its domain (SNI) presents exactly that
  certificate and the request answers, p50/p99 over 10 changes, with the steps' medians,
  beside the domain changes (each poll is a new handshake, so its resolution is coarser);
- the cost of a reload: `nginx -t` of the live configuration, and from SIGHUP until every old
  worker is gone (new ones serving, the route table kept; nginx's master tells old workers to
  stop only 100 ms after it started the new ones, a fixed `ngx_msleep(100)`), median of 3:
  the same at both sizes, since the configuration names no app; a reload happens only at the
  agent's start. And what an nginx restart costs instead (its shared dicts are lost): a
  full PUT of every app's routes through the socket, and the agent's whole send after a start
  (routes and endpoints), median of 3, with the body's size;
- after the 1,000-app block: requests/s through nginx and direct to the same upstream, same
  client, same run (the client is a Python keep-alive loop, so both figures are client-bound;
  the ratio is the point);
- last, the 10,000 vs 1,000 ratios of the endpoint and domain change p50/p99: neither should
  grow with the number of apps.
"""

import asyncio
import contextlib
import itertools
import json
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import nats

from deis_router_agent import service
from deis_router_agent.domain import hosting, keypairs, rendering
from deis_router_agent.nginx import agentsocket, checking
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
SIZE = 1_000
LARGE = 10_000
CERT_EVERY = 10
"""One app in this many has a certificate."""
CHANGES = 100
DOMAIN_CHANGES = 50
CERT_CHANGES = 10
LARGE_CHANGES = 20
LARGE_DOMAIN_CHANGES = 20
REPEATS = 3
"""Reloads, `nginx -t` and full sends timed at each size (their median)."""
SECONDS = 60.0
"""How long any one change may take to be served, or a send to be answered."""
SECURE = "secure.example.com"
"""The domain whose certificate changes (app `secure`)."""
LOAD_SECONDS = 3.0
CONCURRENCY = 8


def routes(app: str, *domains: str, certificates: tuple[routes_kv.Certificate, ...] = ()) -> bytes:
    value = routes_kv.Routes(
        app=app,
        default_domain=f"{app}.localhost",
        domains=list(domains),
        certificates=list(certificates),
        https_enforced=False,
        maintenance=False,
        routable=True,
    )
    return wire.encode(value)


def certificate(name: str, domain: str) -> tuple[routes_kv.Certificate, bytes]:
    """A new self-signed certificate for `domain`, and its DER (what a handshake presents)."""
    key, marker, chain = keypairs.self_signed(domain).partition("-----BEGIN CERTIFICATE-----")
    pem = marker + chain
    value = routes_kv.Certificate(name=name, domains=[domain], certificate=pem, key=key)
    return value, ssl.PEM_cert_to_DER_cert(pem)


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


TLS = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
TLS.check_hostname = False
TLS.verify_mode = ssl.CERT_NONE  # the certificate presented is compared byte for byte instead


async def fetch_tls(port: int, host: str) -> tuple[bytes, bytes] | None:
    """The certificate (DER) a handshake naming `host` meets, and the answer's body; None
    when the handshake is refused (no certificate for `host` yet)."""
    try:
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=TLS, server_hostname=host
        )
    except (ssl.SSLError, ConnectionError):
        return None
    try:
        presented = writer.get_extra_info("ssl_object").getpeercert(binary_form=True) or b""
        writer.write(f"GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        response = await reader.read()
    finally:
        await _closed(writer)
    return presented, response.partition(b"\r\n\r\n")[2]


async def _closed(writer: asyncio.StreamWriter) -> None:
    """Close a connection nginx may have reset already (after `keepalive_requests`)."""
    writer.close()
    with contextlib.suppress(ConnectionError, ssl.SSLError):
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
    check: Callable[[], Awaitable[bool]], *, seconds: float = SECONDS, interval: float = 0.005
) -> None:
    async with asyncio.timeout(seconds):
        for _ in itertools.count():
            if await check():
                return
            await asyncio.sleep(interval)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def spread(seconds: list[float]) -> tuple[float, float]:
    """p50 and p99, in milliseconds (NaN for none)."""
    if not seconds:
        return float("nan"), float("nan")
    ms = [value * 1000 for value in seconds]
    return percentile(ms, 0.5), percentile(ms, 0.99)


def medians(steps: dict[str, list[float]]) -> str:
    """Each step's median, in milliseconds."""
    return "  ".join(
        f"{step} {statistics.median(values) * 1000:.2f}" for step, values in steps.items()
    )


def workers(master: int) -> set[int]:
    """The nginx master's children (its workers)."""
    try:
        text = Path(f"/proc/{master}/task/{master}/children").read_text()
    except OSError:
        return set()
    return {int(pid) for pid in text.split()}


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
            reload_timeout=SECONDS,  # also the full send's timeout
        )
        async with service.running(settings) as router:
            nc = await nats.connect(server.url)
            js = nc.jetstream()
            applier = router.applier
            layout = router.ctx.layout
            applied: list[float] = []

            async def on_applied(msg: object) -> None:
                applied.append(json.loads(msg.data)["latency_seconds"])  # type: ignore[attr-defined]

            await nc.subscribe(router_events.APPLIED_SUBJECT, cb=on_applied)

            async def settled() -> bool:
                return applier.settled

            async def grow(start: int, stop: int, *, routed: int) -> None:
                """Route apps `start`..`stop` (one in CERT_EVERY with a certificate)."""
                started = time.perf_counter()
                for index in range(start, stop):  # unacknowledged: a few batches, not dozens
                    app = f"app{index}"
                    certificates: tuple[routes_kv.Certificate, ...] = ()
                    if index % CERT_EVERY == 0:
                        certificates = (certificate("own", f"{app}.localhost")[0],)
                    await nc.publish(
                        f"$KV.{routes_kv.BUCKET}.{app}", routes(app, certificates=certificates)
                    )
                    await nc.publish(
                        f"$KV.{endpoints_kv.BUCKET}.{app}", endpoints(app, ports[0], 1)
                    )
                await nc.flush()

                async def grown() -> bool:
                    return len(applier.good) >= routed and applier.settled

                await until(grown, seconds=10 * SECONDS, interval=0.05)
                held = sum(len(app.certificates) for app in applier.good.values())
                print(
                    f"\n=== {len(applier.good)} apps routed ({held} with a certificate), "
                    f"{stop - start} of them added in {time.perf_counter() - started:.1f} s;"
                    f" reloads so far {applier.reloads} (the agent's start) ==="
                )

            await grow(0, SIZE, routed=SIZE)
            await js.publish(f"$KV.{routes_kv.BUCKET}.bench", routes("bench"))
            await js.publish(f"$KV.{endpoints_kv.BUCKET}.bench", endpoints("bench", ports[0], 1))
            await js.publish(f"$KV.{endpoints_kv.BUCKET}.secure", endpoints("secure", ports[0], 1))
            start = (certificate("start", SECURE)[0],)
            await js.publish(
                f"$KV.{routes_kv.BUCKET}.secure", routes("secure", SECURE, certificates=start)
            )

            async def first() -> bool:
                return await fetch(settings.http_port, "bench.localhost") == b"blue"

            await until(first)
            await until(settled)
            version = 1
            domains = itertools.count()

            def wanted() -> bytes:
                return (b"blue", b"green")[version % 2]

            async def endpoint_changes(count: int) -> tuple[float, float]:
                nonlocal version
                applied.clear()
                reloads, sends = applier.reloads, applier.endpoints.sends
                served: list[float] = []
                for _ in range(count):
                    version += 1
                    started = time.perf_counter()
                    await js.publish(
                        f"$KV.{endpoints_kv.BUCKET}.bench",
                        endpoints("bench", ports[version % 2], version),
                    )

                    async def moved(answer: bytes = wanted()) -> bool:
                        return await fetch(settings.http_port, "bench.localhost") == answer

                    await until(moved, interval=0.001)
                    served.append(time.perf_counter() - started)
                    await until(settled)
                p50, p99 = spread(served)
                r50, r99 = spread(applied)
                print(f"{count} endpoint changes of one app, one after another")
                print(
                    f"endpoint change -> served      p50 {p50:6.1f} ms   p99 {p99:6.1f} ms"
                    "   (target p99 <= 20 ms)"
                )
                print(
                    f"  router.applied latency       p50 {r50:6.1f} ms   p99 {r99:6.1f} ms"
                    f"   ({len(applied)} revisions, {applier.reloads - reloads} reloads,"
                    f" {(applier.endpoints.sends - sends) / count:.1f} socket requests each)"
                )
                return p50, p99

            async def domain_changes(
                count: int, baseline: tuple[float, float]
            ) -> tuple[float, float]:
                """`count` new custom domains of one app, each waited for until served."""
                applied.clear()
                reloads, sends = applier.reloads, applier.endpoints.sends
                served: list[float] = []
                steps: dict[str, list[float]] = {}
                for _ in range(count):
                    domain = f"d{next(domains)}.example.com"
                    started = time.perf_counter()
                    await js.publish(f"$KV.{routes_kv.BUCKET}.bench", routes("bench", domain))

                    async def routed(domain: str = domain, answer: bytes = wanted()) -> bool:
                        return await fetch(settings.http_port, domain) == answer

                    await until(routed, interval=0.001)
                    served.append(time.perf_counter() - started)
                    await until(settled)
                    for step, seconds in applier.timings.items():
                        steps.setdefault(step, []).append(seconds)
                p50, p99 = spread(served)
                r50, r99 = spread(applied)
                print(f"{count} domain changes of one app (a new custom domain each)")
                print(
                    f"domain change -> served        p50 {p50:6.1f} ms   p99 {p99:6.1f} ms"
                    f"   (baseline, endpoint change: p50 {baseline[0]:.1f} ms,"
                    f" p99 {baseline[1]:.1f} ms)"
                )
                print(
                    f"  router.applied latency       p50 {r50:6.1f} ms   p99 {r99:6.1f} ms"
                    f"   ({len(applied)} revisions, {applier.reloads - reloads} reloads"
                    f" (must be 0), {(applier.endpoints.sends - sends) / count:.1f}"
                    " socket requests each)"
                )
                print(f"  one revision, medians (ms): {medians(steps)}")
                return p50, p99

            async def certificate_changes(count: int, baseline: tuple[float, float]) -> None:
                """`count` new certificates of SECURE, each waited for until a handshake has it."""
                applied.clear()
                reloads = applier.reloads
                served: list[float] = []
                steps: dict[str, list[float]] = {}
                for index in range(count):
                    cert, der = certificate(f"c{index}", SECURE)
                    started = time.perf_counter()
                    await js.publish(
                        f"$KV.{routes_kv.BUCKET}.secure",
                        routes("secure", SECURE, certificates=(cert,)),
                    )

                    async def presented(der: bytes = der) -> bool:
                        got = await fetch_tls(settings.https_port, SECURE)
                        return got == (der, b"blue")

                    await until(presented, interval=0.001)
                    served.append(time.perf_counter() - started)
                    await until(settled)
                    for step, seconds in applier.timings.items():
                        steps.setdefault(step, []).append(seconds)
                p50, p99 = spread(served)
                r50, r99 = spread(applied)
                print(f"{count} certificate changes of one app (a new self-signed pair each)")
                print(
                    f"certificate change -> HTTPS    p50 {p50:6.1f} ms   p99 {p99:6.1f} ms"
                    f"   (beside the domain change: p50 {baseline[0]:.1f} ms,"
                    f" p99 {baseline[1]:.1f} ms)"
                )
                print(
                    f"  router.applied latency       p50 {r50:6.1f} ms   p99 {r99:6.1f} ms"
                    f"   ({len(applied)} revisions, {applier.reloads - reloads} reloads;"
                    " served: the handshake naming it presents the new certificate)"
                )
                print(f"  one revision, medians (ms): {medians(steps)}")

            async def reload_cost() -> None:
                """`nginx -t` and a SIGHUP reload of the live configuration; a full send."""
                master = router.ctx.master
                pid = master.pid
                assert pid is not None
                checks: list[float] = []
                reloads: list[float] = []
                for _ in range(REPEATS):
                    started = time.perf_counter()
                    message = await checking.check(
                        binary=router.ctx.binary, prefix=layout.root, conf=layout.live_conf
                    )
                    checks.append(time.perf_counter() - started)
                    if message is not None:
                        print(f"  nginx -t refused the live configuration: {message}")
                    old = workers(pid)
                    started = time.perf_counter()
                    master.reload()

                    async def replaced(old: set[int] = old) -> bool:
                        now = workers(pid)
                        return bool(now) and not now & old

                    await until(replaced, interval=0.002)
                    reloads.append(time.perf_counter() - started)
                    await until(settled)
                kept = await fetch(settings.http_port, "bench.localhost") == wanted()
                lines = (await asyncio.to_thread(layout.live_conf.read_text)).count("\n")
                print(f"a reload of the live configuration ({lines} lines), median of {REPEATS}")
                print(
                    f"  nginx -t {statistics.median(checks) * 1000:7.1f} ms   SIGHUP until every"
                    f" old worker is gone {statistics.median(reloads) * 1000:7.1f} ms"
                    f"   (route table kept: {'yes' if kept else 'NO'}; nginx waits a fixed"
                    " 100 ms before it tells old workers to stop)"
                )
                sync = applier.endpoints
                release = applier.release
                assert release is not None
                body = rendering.body(applier.good.values())
                puts: list[float] = []
                sends: list[float] = []
                for _ in range(REPEATS):
                    started = time.perf_counter()
                    await agentsocket.request(
                        layout.socket, method="PUT", target=hosting.SOCKET_LOCATION, body=body,
                        seconds=SECONDS, what="set every app's routes",
                    )  # fmt: skip
                    puts.append(time.perf_counter() - started)
                    sync.synced = -1  # as after a restart: every app's routes and endpoints
                    started = time.perf_counter()
                    await sync.send((), release=release)
                    sends.append(time.perf_counter() - started)
                print(
                    f"what a restart costs instead: every app's routes PUT through the socket"
                    f" ({len(body) / 1e6:.2f} MB) {statistics.median(puts) * 1000:7.1f} ms;"
                    f" the agent's whole send (routes, then endpoints)"
                    f" {statistics.median(sends) * 1000:7.1f} ms"
                )

            async def at_size(
                changes: int, domain_count: int, *, certificates: int
            ) -> tuple[tuple[float, float], tuple[float, float]]:
                endpoint = await endpoint_changes(changes)
                domain = await domain_changes(domain_count, endpoint)
                if certificates:
                    await certificate_changes(certificates, domain)
                await reload_cost()
                return endpoint, domain

            small = await at_size(CHANGES, DOMAIN_CHANGES, certificates=CERT_CHANGES)

            direct = await load(ports[0], "bench.localhost")
            proxied = await load(settings.http_port, "app1.localhost")
            print(f"requests/s, {CONCURRENCY} keep-alive connections, {LOAD_SECONDS:.0f} s each")
            print(f"direct to the upstream   {direct:8.0f}/s")
            print(f"through nginx            {proxied:8.0f}/s   (ratio {proxied / direct:.2f})")

            await grow(SIZE, LARGE, routed=LARGE + 2)  # and `bench` and `secure`
            large = await at_size(LARGE_CHANGES, LARGE_DOMAIN_CHANGES, certificates=0)
            print(f"\n=== {LARGE:,} vs {SIZE:,} apps (ratio of the served times) ===")
            for what, at_small, at_large in zip(
                ("endpoint change", "domain change"), small, large, strict=True
            ):
                print(
                    f"{what:16s} p50 {at_large[0]:6.1f} / {at_small[0]:6.1f} ms = "
                    f"{at_large[0] / at_small[0]:4.2f}   p99 {at_large[1]:6.1f} /"
                    f" {at_small[1]:6.1f} ms = {at_large[1] / at_small[1]:4.2f}"
                )
            print(f"reloads in the whole run: {applier.reloads} (the agent's start only)")
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
