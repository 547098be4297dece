import asyncio
from collections.abc import AsyncIterator

import pytest

from deis_shared.health import Health, HealthServer


async def _get(port: int, path: str) -> tuple[int, str]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    await writer.drain()
    raw = await reader.read()
    writer.close()
    await writer.wait_closed()
    head, _, body = raw.decode().partition("\r\n\r\n")
    return int(head.split()[1]), body


@pytest.fixture
async def served() -> AsyncIterator[tuple[Health, int]]:
    health = Health(service="svc")
    server = HealthServer(health=health, host="127.0.0.1", port=0)
    await server.start()
    try:
        yield health, server.port
    finally:
        await server.close()
        await server.close()


async def test_readyz_follows_readiness_and_checks(served: tuple[Health, int]) -> None:
    health, port = served
    assert (await _get(port, "/readyz"))[0] == 503
    health.ready = True
    assert await _get(port, "/readyz") == (200, "OK")
    broken = False

    async def nats() -> bool:
        return not broken

    health.add_check(name="nats", check=nats)
    assert (await _get(port, "/readyz"))[0] == 200
    broken = True
    assert await _get(port, "/readyz") == (503, "not ready: nats")


async def test_healthz_reports_liveness(served: tuple[Health, int]) -> None:
    health, port = served
    assert await _get(port, "/healthz") == (200, "OK")
    health.live = False
    assert (await _get(port, "/healthz"))[0] == 503


async def test_metrics_are_prometheus_text(served: tuple[Health, int]) -> None:
    health, port = served
    health.ready = True
    status, body = await _get(port, "/metrics")
    assert status == 200
    assert 'deis_ready{service="svc"} 1.0' in body
    assert "process_cpu_seconds_total" in body


async def test_close_before_start_is_fine() -> None:
    server = HealthServer(health=Health(service="svc"), host="127.0.0.1", port=0)
    await server.close()
