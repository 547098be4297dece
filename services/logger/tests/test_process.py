"""The logger as a real process: it starts, and SIGTERM stops it with exit code 0."""

import asyncio
import os

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
