"""A relay in its own process that stops dead after publishing: the crash of the kill test.

Usage: python relay_child.py <dsn> <schema> <nats-url>

It runs one relay round whose `after_publish` hook prints `PUBLISHED <id>` and then waits
forever, so the test can SIGKILL it between publish and mark-sent.
"""

import asyncio
import sys
import uuid

import nats

from deis_shared.db import pool as db_pool
from deis_shared.outbox import relay


async def main(dsn: str, schema: str, url: str) -> None:
    pool = await db_pool.create_pool(dsn=dsn, schema=schema, min_size=1, max_size=2)
    nc = await nats.connect(url)
    js = nc.jetstream()

    async def hang(row_id: uuid.UUID) -> None:
        sys.stdout.write(f"PUBLISHED {row_id}\n")
        sys.stdout.flush()
        await asyncio.Event().wait()

    await relay.relay_once(pool, js=js, schema=schema, after_publish=hang)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
