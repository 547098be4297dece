"""Bus benchmark: JetStream publish throughput, KV watch latency, outbox relay throughput.

Run: `uv run python bench/bus.py`. Starts its own nats-server and PostgreSQL; prints one
aligned table. The relay's figure is set against sequential publishing measured in the same
run, since the relay publishes row by row: that is its ceiling.
"""

import asyncio
import statistics
import time
import uuid
from dataclasses import dataclass

from deis_shared.bus import connection, publishing, topology, watching
from deis_shared.db import pool as db_pool
from deis_shared.outbox import outbox, relay, schema as outbox_schema
from deis_testing import NatsServer, PostgresServer

MESSAGES = 10_000
PUTS = 1_000
ROWS = 5_000


async def throughput(bus: connection.Bus) -> tuple[float, float]:
    await bus.js.add_stream(name="BENCH", subjects=["bench.>"])
    start = time.perf_counter()
    for i in range(MESSAGES):
        await publishing.publish(bus.js, subject="bench.seq", data=b"x" * 100, msg_id=f"s{i}")
    sequential = MESSAGES / (time.perf_counter() - start)
    messages = [
        publishing.Outgoing(subject="bench.batch", data=b"x" * 100, msg_id=f"b{i}")
        for i in range(MESSAGES)
    ]
    start = time.perf_counter()
    acks = await publishing.publish_many(bus.js, messages=messages, timeout=30)
    batched = MESSAGES / (time.perf_counter() - start)
    assert len(acks) == MESSAGES
    return sequential, batched


async def watch_latency(bus: connection.Bus) -> list[float]:
    await topology.ensure_bucket(bus.js, name="bench")
    kv = await bus.js.key_value("bench")
    watcher = watching.watch(js=bus.js, nc=bus.nc, bucket="bench")
    latencies: list[float] = []
    try:
        await kv.put("warm", b"0")
        await watcher.__anext__()
        for i in range(PUTS):
            start = time.perf_counter()
            await kv.put("key", str(i).encode())
            entry = await watcher.__anext__()
            latencies.append(time.perf_counter() - start)
            assert entry.value == str(i).encode()
    finally:
        await watcher.close()
    return latencies


async def relay_throughput(bus: connection.Bus, dsn: str, *, batch_size: int) -> float:
    """Enqueue ROWS events in committed transactions, then time the relay draining them."""
    schema = f"bench{batch_size}"
    async with db_pool.open_pool(dsn=dsn, schema=schema, min_size=1, max_size=4) as pool:
        await outbox_schema.migrate_outbox(pool, schema=schema)
        async with pool.acquire() as conn:
            for start in range(0, ROWS, 1000):
                async with conn.transaction():
                    for _ in range(start, min(ROWS, start + 1000)):
                        await outbox.enqueue_event(
                            conn, subject="bench.outbox", message=b"x" * 100, msg_id=uuid.uuid4()
                        )
        began = time.perf_counter()
        published = await relay.drain(pool, js=bus.js, schema=schema, batch_size=batch_size)
        elapsed = time.perf_counter() - began
    assert published == ROWS, published
    return ROWS / elapsed


@dataclass
class Figures:
    sequential: float
    batched: float
    latencies: list[float]
    relay100: float
    relay500: float


async def measure(nats_url: str, dsn: str) -> Figures:
    bus = await connection.connect(url=nats_url, name="bench", connect_timeout=2)
    try:
        sequential, batched = await throughput(bus)
        return Figures(
            sequential=sequential,
            batched=batched,
            latencies=sorted(await watch_latency(bus)),
            relay100=await relay_throughput(bus, dsn, batch_size=100),
            relay500=await relay_throughput(bus, dsn, batch_size=500),
        )
    finally:
        await bus.close()


def main() -> None:
    server, postgres = NatsServer(), PostgresServer()
    server.start()
    postgres.start()
    try:
        figures = asyncio.run(measure(server.url, postgres.dsn()))
    finally:
        server.close()
        postgres.stop()
    sequential, batched, latencies = figures.sequential, figures.batched, figures.latencies
    relay100, relay500 = figures.relay100, figures.relay500
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000
    rows = [
        ("publish, sequential awaits", f"{sequential:,.0f} msg/s"),
        ("publish_many (batched)", f"{batched:,.0f} msg/s"),
        ("batched / sequential", f"{batched / sequential:.1f}x"),
        ("KV put -> watcher, p50", f"{p50:.2f} ms"),
        ("KV put -> watcher, p99", f"{p99:.2f} ms"),
        ("outbox relay, batch 100", f"{relay100:,.0f} rows/s"),
        ("outbox relay, batch 500", f"{relay500:,.0f} rows/s"),
        ("relay (500) / sequential publish", f"{relay500 / sequential:.2f}x"),
    ]
    width = max(len(name) for name, _ in rows)
    print(
        f"bus benchmark ({MESSAGES:,} publishes of 100 bytes, {PUTS:,} KV puts,"
        f" {ROWS:,} outbox rows)"
    )
    for name, value in rows:
        print(f"  {name:<{width}}  {value:>16}")


if __name__ == "__main__":
    main()
