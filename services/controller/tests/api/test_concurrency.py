"""Many concurrent requests on a small pool: no request waits for a second connection while
holding one, which would deadlock the pool."""

import asyncio

import httpx
import pytest


@pytest.mark.parametrize("controller_overrides", [{"db_pool_max_size": 2}])
async def test_concurrent_writes_on_a_two_connection_pool_all_finish(
    client: httpx.AsyncClient, register, auth, controller_overrides
):
    token = await register("alice")
    created = await client.post("/v2/apps/", json={"id": "busy"}, headers=auth(token))
    assert created.status_code == 201

    async def set_value(n: int) -> int:
        response = await client.post(
            "/v2/apps/busy/config/", json={"values": {f"K{n}": "v"}}, headers=auth(token)
        )
        return response.status_code

    async def read() -> int:
        return (await client.get("/v2/apps/busy/", headers=auth(token))).status_code

    async with asyncio.timeout(20):
        statuses = await asyncio.gather(
            *(set_value(n) for n in range(12)), *(read() for _ in range(12))
        )
    assert statuses == [201] * 12 + [200] * 12
    releases = await client.get("/v2/apps/busy/releases/", headers=auth(token))
    assert releases.json()["count"] == 13
