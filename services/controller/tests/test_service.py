"""The controller as a process: it serves, and SIGTERM stops it cleanly with exit code 0."""

import asyncio

import asyncpg
import httpx


async def test_process_serves_then_exits_zero_on_sigterm(pg_dsn: str, start_controller_process):
    controller = await start_controller_process()
    async with httpx.AsyncClient(base_url=controller.url) as http:
        health = await http.get("/healthz")
        assert (health.status_code, health.text) == (200, "OK")
        assert health.headers["DEIS_API_VERSION"] == "2.3"
        assert (await http.get("/v2/")).status_code == 401
        docs = await http.get("/openapi.json")
        assert docs.status_code == 200 and "/v2/apps/" in docs.json()["paths"]
        assert (await http.get("/docs")).status_code == 200
    code = await asyncio.to_thread(controller.stop, grace=15)  # SIGTERM, then SIGKILL
    assert code == 0
    conn = await asyncpg.connect(pg_dsn)
    try:
        tables = await conn.fetchval(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'controller'"
        )
        assert tables >= 12
    finally:
        await conn.close()
