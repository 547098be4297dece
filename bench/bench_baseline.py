"""The floor for `bench/api.py`: FastAPI answering one asyncpg query, nothing else."""

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from fastapi import FastAPI
from starlette.responses import JSONResponse, Response


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    app.state.pool = await asyncpg.create_pool(
        os.environ["BENCH_DSN"],
        min_size=5,
        max_size=20,
        server_settings={"search_path": "controller"},
    )
    yield
    await app.state.pool.close()


app = FastAPI(lifespan=lifespan)


@app.get("/baseline/{app_id}")
async def one_query(app_id: str) -> Response:
    row = await app.state.pool.fetchrow(
        "SELECT uuid, id, owner_id, structure, created, updated FROM apps WHERE id = $1", app_id
    )
    return JSONResponse(
        {"uuid": str(row["uuid"]), "id": row["id"], "created": row["created"].isoformat()}
    )
