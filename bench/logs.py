"""Logs benchmark: ingest into `LOGS`, the tail RPC, and the delay of a followed line.

Run: `uv run python bench/logs.py`. Starts its own nats-server and a logger in this process
(filesystem object store, archiving on), and publishes `LogLine`s as the scheduler's shipper
does (core NATS publishes on `deis.logs.<app>`). Prints:

- ingest: lines/s from the first publish until the stream holds all 200,000 lines of 20 apps
  (one publisher; the stream's own storage on file);
- archive: lines/s the logger's archiver spools and acknowledges over those same lines,
  counted from the first publish (the logger runs in this process and event loop, so while
  it keeps up it takes CPU from the publisher, and ingest reads lower than with a publisher
  of its own);
- tail 1000: the tail RPC for the last 1,000 lines of one app among the 200,000, as the
  controller asks it, median and p99 of 50;
- follow: publish -> follower latency, p50 and p99 of 2,000 lines published at ~1,000 lines/s
  while a `LogReader` follows the app (the controller's `deis logs -f`).

Targets: ingest >= 20,000 lines/s; follow p99 <= 250 ms.
"""

import asyncio
import itertools
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import nats
import nats.js.errors

from deis_logger import archiving, service
from deis_logger.settings import LoggerSettings
from deis_shared import wire
from deis_shared.bus import logreading, requesting
from deis_shared.events import logs
from deis_shared.rpc import logger as logger_rpc
from deis_testing import NatsServer

APPS = 20
LINES = 200_000
TAILS = 50
FOLLOWED = 2_000


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def _ingest(nc: nats.aio.client.Client) -> float:
    js = nc.jetstream()
    payloads = [
        (logs.subject(app), wire.encode(logs.LogLine(app=app, process="web.1", message=text)))
        for n in range(LINES)
        for app, text in [(f"app{n % APPS}", f"request {n} served in 3 ms")]
    ]
    started = time.perf_counter()
    for n, (subject, data) in enumerate(payloads, start=1):
        await nc.publish(subject, data)
        if n % 1000 == 0:
            await nc.flush()
    await nc.flush()
    await _until(lambda: _stream(js, lambda state: state.messages >= LINES))
    return LINES / (time.perf_counter() - started)


async def _stream(js: nats.js.JetStreamContext, check: Callable[[Any], bool]) -> bool:
    return check((await js.stream_info(logs.STREAM)).state)


async def _until(check: Callable[[], Awaitable[bool]]) -> None:
    for _ in itertools.count():
        if await check():
            return
        await asyncio.sleep(0.005)


async def _archived(js: nats.js.JetStreamContext, started: float) -> float:
    async def caught_up() -> bool:
        try:
            info = await js.consumer_info(logs.STREAM, archiving.DURABLE)
        except nats.js.errors.NotFoundError:
            return False
        return bool(info.num_pending == 0 and info.num_ack_pending == 0)

    await _until(caught_up)
    return LINES / (time.perf_counter() - started)


async def _tails(nc: nats.aio.client.Client) -> list[float]:
    took = []
    for _ in range(TAILS):
        started = time.perf_counter()
        reply = await requesting.request(
            nc,
            subject=logger_rpc.TAIL_SUBJECT,
            payload=logger_rpc.TailRequest(app="app7", lines=1000),
            reply_type=logger_rpc.TailReply,
            timeout=10,
        )
        took.append(time.perf_counter() - started)
        assert len(reply.lines) == 1000
    return took


async def _follow(nc: nats.aio.client.Client) -> list[float]:
    reader = logreading.LogReader(js=nc.jetstream(), nc=nc, app="followed", lines=1, follow=True)
    sent: dict[str, float] = {}
    delays: list[float] = []

    async def publish() -> None:
        for n in range(FOLLOWED):
            message = f"followed {n}"
            sent[message] = time.perf_counter()
            line = logs.LogLine(app="followed", process="web.1", message=message)
            await nc.publish(logs.subject("followed"), wire.encode(line))
            if n % 10 == 0:
                await asyncio.sleep(0.01)

    try:
        first = asyncio.create_task(anext(reader))
        # The archiver's consumer and the reader's: lines from then on are followed.
        await _until(lambda: _stream(nc.jetstream(), lambda state: state.consumer_count >= 2))
        publisher = asyncio.create_task(publish())
        line = await first
        while True:
            message = line.split(": ", 1)[1]
            delays.append(time.perf_counter() - sent[message])
            if len(delays) == FOLLOWED:
                break
            line = await anext(reader)
        await publisher
    finally:
        await reader.close()
    return delays


async def main() -> None:
    server = NatsServer()
    server.start()
    try:
        with tempfile.TemporaryDirectory(prefix="deis-bench-logs-") as tmp:
            settings = LoggerSettings(
                nats_url=server.url,
                data_dir=Path(tmp) / "logger",
                object_store="filesystem",
                object_store_root=Path(tmp) / "objects",
            )
            async with service.running(settings):
                nc = await nats.connect(server.url)
                try:
                    started = time.perf_counter()
                    ingest = await _ingest(nc)
                    archive = await _archived(nc.jetstream(), started)
                    tails = await _tails(nc)
                    delays = await _follow(nc)
                finally:
                    await nc.close()
    finally:
        server.close()
    ms = 1000
    print(f"logger on one nats-server ({APPS} apps, {LINES:,} lines, per-app limit 10,000)")
    print(f"  ingest into LOGS:        {ingest:10,.0f} lines/s   (target >= 20,000)")
    print(f"  archiver spool + ack:    {archive:10,.0f} lines/s")
    print(
        f"  tail RPC, 1000 lines:    {statistics.median(tails) * ms:10.1f} ms median, "
        f"{_percentile(tails, 0.99) * ms:.1f} ms p99"
    )
    print(
        f"  publish -> follower:     {_percentile(delays, 0.5) * ms:10.1f} ms p50, "
        f"{_percentile(delays, 0.99) * ms:.1f} ms p99   (target p99 <= 250 ms)"
    )


if __name__ == "__main__":
    asyncio.run(main())
