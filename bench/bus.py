"""Bus benchmark: JetStream publish throughput (sequential vs batched) and KV watch latency.

Run: `uv run python bench/bus.py`. Starts its own nats-server; prints one aligned table.
"""

import asyncio
import statistics
import time

from deis_shared.bus import connection, publishing, topology, watching
from deis_testing import NatsServer

MESSAGES = 10_000
PUTS = 1_000


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


async def main() -> None:
    server = NatsServer()
    server.start()
    try:
        bus = await connection.connect(url=server.url, name="bench", connect_timeout=2)
        try:
            sequential, batched = await throughput(bus)
            latencies = sorted(await watch_latency(bus))
        finally:
            await bus.close()
    finally:
        server.close()
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000
    rows = [
        ("publish, sequential awaits", f"{sequential:,.0f} msg/s"),
        ("publish_many (batched)", f"{batched:,.0f} msg/s"),
        ("batched / sequential", f"{batched / sequential:.1f}x"),
        ("KV put -> watcher, p50", f"{p50:.2f} ms"),
        ("KV put -> watcher, p99", f"{p99:.2f} ms"),
    ]
    width = max(len(name) for name, _ in rows)
    print(f"bus benchmark ({MESSAGES:,} publishes of 100 bytes, {PUTS:,} KV puts)")
    for name, value in rows:
        print(f"  {name:<{width}}  {value:>16}")


if __name__ == "__main__":
    asyncio.run(main())
