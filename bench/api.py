"""API benchmark: the controller against a bare FastAPI + asyncpg endpoint, in one run.

Run: `uv run python bench/api.py`. Starts its own PostgreSQL and nats-server, then, one after
the other, two uvicorn processes with the same options (uvloop, httptools, one worker):

- the controller (`deis-controller`), measured on `GET /v2/apps/<id>/` (token check, app
  lookup with its share check) and `POST /v2/apps/<id>/config/` (config merge, a new release,
  KV and event rows in the outbox, which its relay publishes meanwhile; no scheduler runs, so
  it answers at once: `DEIS_ROLLOUT_WAIT=0`). Writes to one app are serialised by its row lock
  (that keeps the outbox in order), so the config figure is given twice: all 50 clients on one
  app, and spread over 50 apps;
- a bare FastAPI app answering one asyncpg query (`SELECT ... FROM apps WHERE id = $1`): the
  floor for any endpoint on this stack.

The load comes from 50 concurrent keep-alive connections of a small raw-HTTP client (an HTTP
library in the same process would be the bottleneck on two cores). Prints requests/s, p50 and
p99 for each, and the ratio of each controller endpoint to the floor.

Then a config change through to served (issue 19), on the whole platform started by
`deisctl up -d`: `bench/rollout.py` (run as `python -m bench.rollout` from the repository root,
since this file runs as a script) times `config:set` until its answer and until nginx serves the
new value, beside the floor of the rollout alone measured from the same changes.
"""

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import uvloop

from deis_testing import NatsServer, PostgresServer
from deis_testing.ports import free_port

CLIENTS = 50
DURATION = 8.0
WARMUP = 1.5


@dataclass
class Result:
    name: str
    requests: int
    seconds: float
    latencies: list[float]
    failures: int

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(len(ordered) * p))] * 1000


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    if length:
        await reader.readexactly(length)
    return status


async def load(
    *, name: str, port: int, request: Callable[[int], bytes], ok: int, duration: float
) -> Result:
    """Drive `CLIENTS` connections for `duration` seconds after a warm-up."""
    latencies: list[float] = []
    failures = 0
    counter = 0
    start = time.perf_counter()
    measure_from = start + WARMUP
    stop_at = measure_from + duration

    async def client() -> None:
        nonlocal failures, counter
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while (now := time.perf_counter()) < stop_at:
                counter += 1
                writer.write(request(counter))
                status = await _read_response(reader)
                done = time.perf_counter()
                if now >= measure_from:
                    latencies.append(done - now)
                    if status != ok:
                        failures += 1
        finally:
            writer.close()

    await asyncio.gather(*(client() for _ in range(CLIENTS)))
    return Result(name, len(latencies), duration, latencies, failures)


def http(method: str, path: str, *, token: str | None = None, body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: bench", "Content-Type: application/json"]
    if token:
        lines.append(f"Authorization: token {token}")
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


async def call(port: int, raw: bytes) -> tuple[int, dict[str, object]]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(raw)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    body = await reader.readexactly(length) if length else b"{}"
    writer.close()
    return status, json.loads(body)


async def bench_controller(dsn: str, nats_url: str) -> tuple[Result, Result, Result]:
    port = free_port()
    env = {
        **os.environ,
        "DEIS_DATABASE_URL": dsn,
        "DEIS_NATS_URL": nats_url,
        "DEIS_API_PORT": str(port),
        "DEIS_LOG_LEVEL": "WARNING",
        "DEIS_DB_POOL_MAX_SIZE": "20",
        # No scheduler runs here: answer at once, as before issue 19. With a wait, writes to
        # one app while another waits get 409; the wait is timed on a whole platform below.
        "DEIS_ROLLOUT_WAIT": "0",
    }
    process = subprocess.Popen([sys.executable, "-m", "deis_controller.main"], env=env)
    try:
        wait_for_port(port, process)
        user = json.dumps({"username": "bench", "password": "bench-password"}).encode()
        status, _ = await call(port, http("POST", "/v2/auth/register/", body=user))
        assert status == 201, status
        status, login = await call(port, http("POST", "/v2/auth/login/", body=user))
        token = str(login["token"])
        status, _ = await call(
            port, http("POST", "/v2/apps/", token=token, body=b'{"id": "benchapp"}')
        )
        assert status == 201, status
        get = http("GET", "/v2/apps/benchapp/", token=token)
        reads = await load(
            name="controller GET /v2/apps/<id>/",
            port=port,
            request=lambda _n: get,
            ok=200,
            duration=DURATION,
        )

        def set_config(n: int) -> bytes:
            body = json.dumps({"values": {"COUNTER": str(n)}}).encode()
            return http("POST", "/v2/apps/benchapp/config/", token=token, body=body)

        writes = await load(
            name="controller POST /v2/apps/<id>/config/",
            port=port,
            request=set_config,
            ok=201,
            duration=DURATION,
        )
        for index in range(CLIENTS):
            body = json.dumps({"id": f"spread-{index}"}).encode()
            status, _ = await call(port, http("POST", "/v2/apps/", token=token, body=body))
            assert status == 201, status

        def set_spread_config(n: int) -> bytes:
            body = json.dumps({"values": {"COUNTER": str(n)}}).encode()
            path = f"/v2/apps/spread-{n % CLIENTS}/config/"
            return http("POST", path, token=token, body=body)

        spread = await load(
            name="  same, spread over 50 apps",
            port=port,
            request=set_spread_config,
            ok=201,
            duration=DURATION,
        )
        return reads, writes, spread
    finally:
        stop(process)


async def bench_baseline(dsn: str) -> Result:
    port = free_port()
    env = {**os.environ, "BENCH_DSN": dsn}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "bench_baseline:app",
            "--app-dir",
            str(Path(__file__).parent),
            "--port",
            str(port),
            "--loop",
            "uvloop",
            "--http",
            "httptools",
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        env=env,
    )
    try:
        wait_for_port(port, process)
        get = http("GET", "/baseline/benchapp")
        return await load(
            name="bare FastAPI + asyncpg, one query",
            port=port,
            request=lambda _n: get,
            ok=200,
            duration=DURATION,
        )
    finally:
        stop(process)


def report(results: list[Result], floor: Result) -> None:
    print(f"{'endpoint':44} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'fail':>5} {'ratio':>6}")
    for result in results:
        print(
            f"{result.name:44} {result.rate:8.0f} {result.percentile(0.5):8.2f}"
            f" {result.percentile(0.99):8.2f} {result.failures:5d}"
            f" {result.rate / floor.rate:6.2f}"
        )
    print(f"{CLIENTS} concurrent connections, {DURATION:.0f} s each after {WARMUP} s warm-up")


async def main() -> None:
    postgres = PostgresServer()
    nats = NatsServer()
    postgres.start()
    nats.start()
    try:
        admin = await asyncpg.connect(postgres.dsn())
        await admin.execute("CREATE DATABASE bench")
        await admin.close()
        dsn = postgres.dsn("bench")
        reads, writes, spread = await bench_controller(dsn, nats.url)
        floor = await bench_baseline(dsn)
        report([floor, reads, writes, spread], floor)
    finally:
        nats.close()
        postgres.stop()


def served_figures() -> None:
    """The config change through to served, on the whole platform: `bench/rollout.py`."""
    root = Path(__file__).resolve().parent.parent
    subprocess.run([sys.executable, "-m", "bench.rollout"], cwd=root, check=True)


if __name__ == "__main__":
    uvloop.run(main())
    print()
    served_figures()
