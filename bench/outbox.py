"""Outbox relay throughput: enqueue 5,000 events, then time relay rounds until drained.

Run: uv run python bench/outbox.py
"""

import asyncio

import nats
from nats.js.api import StreamConfig

from deis_shared.db import pool as db_pool
from deis_shared.outbox import relay, schema as outbox_schema
from deis_testing import NatsServer, PostgresServer

ROWS = 5000


async def measure(pg: PostgresServer, ns: NatsServer) -> None:
    async with db_pool.open_pool(dsn=pg.dsn(), schema="bench", min_size=1, max_size=4) as pool:
        await outbox_schema.migrate_outbox(pool, schema="bench")
        nc = await nats.connect(ns.url)
        try:
            js = nc.jetstream()
            await js.add_stream(StreamConfig(name="BENCH", subjects=["bench.>"]))
            for batch_size in (100, 500):
                rate = await relay.measure_throughput(
                    pool,
                    js=js,
                    schema="bench",
                    subject="bench.events",
                    rows=ROWS,
                    batch_size=batch_size,
                )
                print(f"outbox relay, batch {batch_size}: {rate:,.0f} rows/s ({ROWS} rows)")
        finally:
            await nc.close()


def main() -> None:
    pg, ns = PostgresServer(), NatsServer()
    pg.start()
    ns.start()
    try:
        asyncio.run(measure(pg, ns))
    finally:
        ns.close()
        pg.stop()


if __name__ == "__main__":
    main()
