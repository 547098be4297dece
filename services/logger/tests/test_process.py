"""The logger as a real process: it starts, and SIGTERM stops it with exit code 0."""

import asyncio
import json
import os

import httpx
import nats

from deis_shared.bus import logreading
from deis_testing import ServiceProcess, free_port


async def test_sigterm_stops_the_logger_with_exit_code_0(nats_server_factory, tmp_path):
    server = nats_server_factory()
    port = free_port()
    env = {
        **os.environ,
        "DEIS_NATS_URL": server.url,
        "DEIS_DATA_DIR": str(tmp_path / "logger"),
        "DEIS_OBJECT_STORE_ROOT": str(tmp_path / "objects"),
        "DEIS_HEALTH_PORT": str(port),
        "DEIS_SHUTDOWN_TIMEOUT": "10",
    }
    logger = ServiceProcess("deis_logger.main", env=env, port=port, log=tmp_path / "logger.log")
    await asyncio.to_thread(logger.start)
    assert await asyncio.to_thread(logger.stop, grace=15) == 0


async def test_the_ingest_endpoint_of_a_logger_process_stores_lines_and_stops_cleanly(
    nats_server_factory, tmp_path
):
    server = nats_server_factory()
    port = free_port()
    env = {
        **os.environ,
        "DEIS_NATS_URL": server.url,
        "DEIS_DATA_DIR": str(tmp_path / "logger"),
        "DEIS_OBJECT_STORE_ROOT": str(tmp_path / "objects"),
        "DEIS_INGEST_PORT": str(port),
        "DEIS_INGEST_TOKEN": "a-token-from-the-environment",
        "DEIS_SHUTDOWN_TIMEOUT": "10",
    }
    logger = ServiceProcess("deis_logger.main", env=env, port=port, log=tmp_path / "logger.log")
    await asyncio.to_thread(logger.start)
    try:
        record = {
            "date": 1714564800.5,
            "log": "hello from a pod\n",
            "stream": "stdout",
            "kubernetes": {
                "pod_name": "shop-web-6f7d9c8b5-x2x7k",
                "namespace_name": "shop",
                "labels": {"app": "shop", "heritage": "deis", "type": "web", "version": "v1"},
            },
        }
        async with httpx.AsyncClient(base_url=logger.url) as client:
            answer = await client.post(
                "/v1/ingest/fluentbit",
                content=json.dumps(record).encode() + b"\n",
                headers={
                    "Content-Type": "application/json",
                    "Authorization": "Bearer a-token-from-the-environment",
                },
            )
        assert (answer.status_code, answer.json()) == (201, {"accepted": 1, "dropped": 0})
        nc = await nats.connect(server.url)
        try:
            lines = await logreading.tail(js=nc.jetstream(), nc=nc, app="shop", lines=5)
        finally:
            await nc.close()
        assert lines == ["2024-05-01T12:00:00.500000Z shop[web.v1.x2x7k]: hello from a pod"]
    finally:
        code = await asyncio.to_thread(logger.stop, grace=15)
    assert code == 0
