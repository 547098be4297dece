"""An app's config: show the current one, and change it, which makes a release (docs/api.md §2.3).

Configs are an append-only history: a change merges the request into the config of the latest
release that did not fail (`domain.config.merge` holds every rule), stores the result as a new
row owned by the caller and releases it with the same build. A change that would alter nothing
is refused with 409 before anything is written.
"""

import uuid
from typing import Any

import asyncpg

from deis_controller import errors
from deis_controller.domain import config as config_rules, summaries
from deis_controller.domain.formats import timestamp
from deis_controller.usecases import releases
from deis_controller.usecases.context import Context
from deis_controller.usecases.records import App, User

CONFIG_COLUMNS = (
    'c.uuid, o.username AS owner, c."values", c.memory, c.cpu, c.tags, c.registry,'
    " c.healthcheck, c.created, c.updated"
)
"""Columns of `configs c JOIN users o ON o.id = c.owner_id` that `config_public` reads."""

_CURRENT = f"""
SELECT {CONFIG_COLUMNS}
FROM releases r
JOIN configs c ON c.uuid = r.config_uuid
JOIN users o ON o.id = c.owner_id
WHERE r.app_uuid = $1 AND NOT r.failed
ORDER BY r.version DESC LIMIT 1
"""

_INSERT = f"""
WITH c AS (
    INSERT INTO configs (uuid, app_uuid, owner_id, "values", memory, cpu, tags, registry,
                         healthcheck)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING *
)
SELECT {CONFIG_COLUMNS} FROM c JOIN users o ON o.id = c.owner_id
"""


def config_public(row: asyncpg.Record, *, app_id: str) -> dict[str, Any]:
    """The Config object of docs/api.md §3.1 from a row selected with `CONFIG_COLUMNS`."""
    return {
        "uuid": str(row["uuid"]),
        "owner": row["owner"],
        "app": app_id,
        "values": row["values"],
        "memory": row["memory"],
        "cpu": row["cpu"],
        "tags": row["tags"],
        "registry": row["registry"],
        "healthcheck": row["healthcheck"],
        "created": timestamp(row["created"]),
        "updated": timestamp(row["updated"]),
    }


async def current(conn: asyncpg.Connection, *, app: App) -> dict[str, Any]:
    """The config of the app's latest release that did not fail.

    Raises:
        NotFound: The app has no such release.
    """
    row = await conn.fetchrow(_CURRENT, app.uuid)
    if row is None:
        raise errors.NotFound("Config")
    return config_public(row, app_id=app.id)


async def change(
    conn: asyncpg.Connection, *, ctx: Context, app: App, user: User, data: dict[str, Any]
) -> dict[str, Any]:
    """Merge `data` into the current config and release it; the new Config object.

    Raises:
        FieldErrors: A key or value breaks the rules of its field.
        BadRequest: A registry without `PORT`, or a config larger than `max_config_bytes`.
        Unprocessable: Unsetting a key that is not set.
        Conflict: Nothing would change.
    """
    async with conn.transaction():
        await releases.lock(conn, app=app)
        start = await releases.base(conn, app=app)
        merged = config_rules.merge(
            base=start.config,
            changes=data,
            default_tags=ctx.settings.default_config_tags,
            max_bytes=ctx.settings.max_config_bytes,
        )
        build = start.build.facts() if start.build else None
        summary = summaries.release_summary(
            user=user.username,
            old_build=build,
            new_build=build,
            old=start.config,
            new=merged,
            config_owner=user.username,
        )
        if summary is None:
            raise errors.Conflict(f"{user.username} changed nothing - release stopped")
        row = await conn.fetchrow(
            _INSERT,
            uuid.uuid4(),
            app.uuid,
            user.id,
            merged.values,
            merged.memory,
            merged.cpu,
            merged.tags,
            merged.registry,
            merged.healthcheck,
        )
        assert row is not None
        await releases.record(
            conn,
            ctx=ctx,
            app=app,
            user=user,
            config_uuid=row["uuid"],
            build_uuid=start.build.uuid if start.build else None,
            summary=summary,
            build_sha=start.build.sha if start.build else "",
        )
    return config_public(row, app_id=app.id)
