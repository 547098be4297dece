"""Push and build history in schema `builder`: one row per push, from start to result.

A row starts `running` when the build begins and ends `succeeded` (released and rolled out),
`failed` (the build or the rollout failed) or `rejected` (refused before building: a bad ref).
A builder that crashes mid-push leaves its row `running`; `finish` is never retried for it.
"""

from dataclasses import dataclass
from typing import Literal
from uuid import UUID

import asyncpg

from deis_shared.db import errors as db_errors

Result = Literal["succeeded", "failed", "rejected"]


@dataclass(frozen=True)
class Outcome:
    """How a push ended, as recorded."""

    result: Result
    reason: str = ""
    version: int | None = None


async def start(
    pool: asyncpg.Pool, *, push_id: UUID, app: str, username: str, fingerprint: str
) -> None:
    """Record that `username` began a push to `app`."""
    with db_errors.mapped_errors():
        await pool.execute(
            "INSERT INTO pushes (id, app, username, fingerprint) VALUES ($1, $2, $3, $4)",
            push_id,
            app,
            username,
            fingerprint,
        )


async def building(pool: asyncpg.Pool, *, push_id: UUID, ref: str, sha: str) -> None:
    """Record which branch and commit the push builds."""
    with db_errors.mapped_errors():
        await pool.execute("UPDATE pushes SET ref = $2, sha = $3 WHERE id = $1", push_id, ref, sha)


async def built(
    pool: asyncpg.Pool, *, push_id: UUID, buildpack: str, slug_key: str, slug_bytes: int
) -> None:
    """Record the slug the build stored."""
    with db_errors.mapped_errors():
        await pool.execute(
            "UPDATE pushes SET buildpack = $2, slug_key = $3, slug_bytes = $4 WHERE id = $1",
            push_id,
            buildpack,
            slug_key,
            slug_bytes,
        )


async def finish(pool: asyncpg.Pool, *, push_id: UUID, outcome: Outcome) -> None:
    """Record how the push ended and how long it took."""
    with db_errors.mapped_errors():
        await pool.execute(
            """
            UPDATE pushes SET finished = now(),
                duration_seconds = extract(epoch FROM now() - started),
                result = $2, reason = $3, version = $4
            WHERE id = $1
            """,
            push_id,
            outcome.result,
            outcome.reason[:1000],
            outcome.version,
        )
