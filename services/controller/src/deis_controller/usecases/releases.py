"""Releases: the one place a release is created, and listing, showing and rolling back.

A release pairs a build (or none, before the first) with a config and gets the next version of
the app, counting failed ones too (docs/api.md §3.3). Every new release, whatever made it (a build,
a config change, a rollback), goes through `record`: inside the caller's transaction and under
the app's row lock it inserts the row, announces `ReleaseCreated` through the outbox, enqueues
the app's `desired` state and writes a platform log line. Deploying is the scheduler's job: it
converges on `desired`, so no release here waits for processes.
"""

import re
import uuid
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg

from deis_controller import errors
from deis_controller.domain import config as config_rules, procfiles, summaries
from deis_controller.domain.formats import timestamp
from deis_controller.usecases import state
from deis_controller.usecases.context import Context
from deis_controller.usecases.records import App, User
from deis_shared.events import release as release_events
from deis_shared.outbox import outbox

MAX_VERSION = 2**31 - 1
"""Versions are PostgreSQL `integer`s: larger numbers name no release (and would not fit)."""

PROCFILE_MISSING = (
    "Last deployment had a Procfile but is missing in this deploy. "
    "For a successful deployment provide a Procfile."
)

_SHA = re.compile(r"^[0-9a-f]{7,40}$")
"""What `ReleaseCreated.build_sha` takes; other shas (a user's free text) are not announced."""

BUILD_COLUMNS = (
    "b.uuid, o.username AS owner, b.image, b.sha, b.procfile, b.dockerfile, b.created, b.updated"
)
"""Columns of `builds b JOIN users o ON o.id = b.owner_id` that `build_public` reads."""

_RELEASES = "FROM releases r JOIN users o ON o.id = r.owner_id WHERE r.app_uuid = $1"

_RELEASE_COLUMNS = (
    "r.uuid, o.username AS owner, r.version, r.summary, r.failed, r.config_uuid, r.build_uuid,"
    " r.created, r.updated"
)

_BASE = """
SELECT r.version, r.config_uuid, co.username AS config_owner,
       c.values, c.memory, c.cpu, c.tags, c.registry, c.healthcheck,
       b.uuid AS build_uuid, bo.username AS build_owner, b.image, b.sha, b.procfile, b.dockerfile
FROM releases r
JOIN configs c ON c.uuid = r.config_uuid
JOIN users co ON co.id = c.owner_id
LEFT JOIN builds b ON b.uuid = r.build_uuid
LEFT JOIN users bo ON bo.id = b.owner_id
WHERE r.app_uuid = $1 AND NOT r.failed
ORDER BY r.version DESC LIMIT 1
"""


@dataclass(frozen=True)
class Released:
    """What a new build's release answers: the build and the release it made."""

    build: dict[str, Any]
    """The public Build JSON object."""
    version: int
    release_uuid: UUID


@dataclass(frozen=True)
class Build:
    """A build as releases compare them."""

    uuid: UUID
    owner: str
    image: str
    sha: str
    procfile: dict[str, str]
    dockerfile: str

    def facts(self) -> summaries.BuildFacts:
        """What a summary says of it."""
        return summaries.BuildFacts(
            owner=self.owner, sha=self.sha, image=self.image, uuid=self.uuid
        )

    def shape(self) -> procfiles.BuildShape:
        """What the formation rules look at."""
        return procfiles.BuildShape(
            procfile=self.procfile, sha=self.sha, dockerfile=self.dockerfile
        )


@dataclass(frozen=True)
class Base:
    """A release new ones start from: its version, config and build."""

    version: int
    config_uuid: UUID
    config_owner: str
    config: config_rules.ConfigData
    build: Build | None


_BUILD_FIELDS = ("image", "sha", "procfile", "dockerfile")


def build_public(row: asyncpg.Record, *, app_id: str) -> dict[str, Any]:
    """The Build object of docs/api.md §3.1 from a row selected with `BUILD_COLUMNS`."""
    return {
        "uuid": str(row["uuid"]),
        "owner": row["owner"],
        "app": app_id,
        **{name: row[name] for name in _BUILD_FIELDS},
        "created": timestamp(row["created"]),
        "updated": timestamp(row["updated"]),
    }


def release_public(row: asyncpg.Record, *, app_id: str) -> dict[str, Any]:
    """The Release object of docs/api.md §3.1 from a row selected with `_RELEASE_COLUMNS`."""
    build = row["build_uuid"]
    return {
        "uuid": str(row["uuid"]),
        "owner": row["owner"],
        "app": app_id,
        "version": row["version"],
        "summary": row["summary"],
        "failed": row["failed"],
        "config": str(row["config_uuid"]),
        "build": None if build is None else str(build),
        "created": timestamp(row["created"]),
        "updated": timestamp(row["updated"]),
    }


def _base_from(row: asyncpg.Record) -> Base:
    build = None
    if row["build_uuid"] is not None:
        facts = {name: row[name] for name in _BUILD_FIELDS}
        build = Build(uuid=row["build_uuid"], owner=row["build_owner"], **facts)
    return Base(
        version=row["version"],
        config_uuid=row["config_uuid"],
        config_owner=row["config_owner"],
        config=config_rules.ConfigData(**{name: row[name] for name in config_rules.FIELDS}),
        build=build,
    )


async def lock(conn: asyncpg.Connection, *, app: App) -> dict[str, int]:
    """Take the app's row lock (first, as every write does); its current structure.

    Raises:
        NotFound: The app was deleted meanwhile.
    """
    row = await state.lock_app(conn, app_uuid=app.uuid)
    if row is None:
        raise errors.NotFound("App")
    structure: dict[str, int] = row["structure"]
    return structure


async def base(conn: asyncpg.Connection, *, app: App) -> Base:
    """The latest release that did not fail: what new releases start from.

    Raises:
        NotFound: The app has no such release (only if its v1 was marked failed by hand).
    """
    row = await conn.fetchrow(_BASE, app.uuid)
    if row is None:
        raise errors.NotFound("Release")
    return _base_from(row)


async def record(
    conn: asyncpg.Connection,
    *,
    ctx: Context,
    app: App,
    user: User,
    config_uuid: UUID,
    build_uuid: UUID | None,
    summary: str,
    build_sha: str = "",
) -> tuple[UUID, int]:
    """Insert the app's next release and announce it; its uuid and version.

    The caller holds the app's lock in its transaction: the version is the highest one, failed
    included, plus one.
    """
    version = 1 + await conn.fetchval(
        "SELECT coalesce(max(version), 0) FROM releases WHERE app_uuid = $1", app.uuid
    )
    row = await conn.fetchrow(
        """
        INSERT INTO releases (uuid, app_uuid, owner_id, version, summary, config_uuid, build_uuid)
        VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING uuid, created
        """,
        uuid.uuid4(),
        app.uuid,
        user.id,
        version,
        summary,
        config_uuid,
        build_uuid,
    )
    assert row is not None
    await outbox.enqueue_event(
        conn,
        subject=release_events.created_subject(app.id),
        message=release_events.ReleaseCreated(
            app=app.id,
            release_id=row["uuid"],
            version=version,
            summary=summary,
            owner=user.username,
            build_sha=build_sha if _SHA.match(build_sha) else None,
            created=row["created"],
        ),
    )
    await state.sync(conn, settings=ctx.settings, app_uuid=app.uuid, parts="desired")
    await state.platform_log(conn, app_id=app.id, message=summary)
    return row["uuid"], version


def _procfile_for(*, ctx: Context, old: Build | None, procfile: dict[str, str]) -> dict[str, str]:
    """The Procfile to store: the old one carried forward when the settings say so (§3.4)."""
    if old is None or not old.procfile or procfile:
        return procfile
    if ctx.settings.deploy_reject_if_procfile_missing:
        raise errors.Conflict(PROCFILE_MISSING)
    if not ctx.settings.deploy_procfile_missing_remove:
        return dict(old.procfile)
    return procfile


async def release_build(
    conn: asyncpg.Connection,
    *,
    ctx: Context,
    app: App,
    user: User,
    image: str,
    sha: str = "",
    procfile: dict[str, str] | None = None,
    dockerfile: str = "",
    slug_key: str | None = None,
) -> Released:
    """Create a build owned by `user` and release it with the current config.

    Works inside the caller's transaction if there is one (as a savepoint).

    Raises:
        FieldErrors: A bad Procfile.
        Conflict: No Procfile after one, when `deploy_reject_if_procfile_missing` is on.
    """
    checked = procfiles.validate_procfile(procfile or {})
    async with conn.transaction():
        structure = await lock(conn, app=app)
        start = await base(conn, app=app)
        stored = _procfile_for(ctx=ctx, old=start.build, procfile=checked)
        row = await conn.fetchrow(
            f"""
            WITH b AS (
                INSERT INTO builds (uuid, app_uuid, owner_id, image, sha, procfile, dockerfile,
                                    slug_key)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *
            )
            SELECT {BUILD_COLUMNS} FROM b JOIN users o ON o.id = b.owner_id
            """,
            uuid.uuid4(),
            app.uuid,
            user.id,
            image,
            sha,
            stored,
            dockerfile,
            slug_key,
        )
        assert row is not None
        build = Build(uuid=row["uuid"], owner=row["owner"], **{n: row[n] for n in _BUILD_FIELDS})
        formation = procfiles.next_structure(
            structure=structure,
            old=start.build.shape() if start.build else None,
            new=procfiles.BuildShape(procfile=checked, sha=sha, dockerfile=dockerfile),
            procfile_missing_remove=ctx.settings.deploy_procfile_missing_remove,
        )
        if formation != structure:
            await conn.execute(
                "UPDATE apps SET structure = $2, updated = now() WHERE uuid = $1",
                app.uuid,
                formation,
            )
        summary = summaries.release_summary(
            user=user.username,
            old_build=start.build.facts() if start.build else None,
            new_build=build.facts(),
            old=start.config,
            new=start.config,
            config_owner=start.config_owner,
        )
        release_uuid, version = await record(
            conn,
            ctx=ctx,
            app=app,
            user=user,
            config_uuid=start.config_uuid,
            build_uuid=build.uuid,
            summary=summary or f"{user.username} deployed {image}",  # a new build always shows
            build_sha=sha,
        )
    return Released(
        build=build_public(row, app_id=app.id), version=version, release_uuid=release_uuid
    )


async def list_releases(
    conn: asyncpg.Connection, *, app: App, limit: int, offset: int
) -> tuple[int, list[dict[str, Any]]]:
    """One page of the app's releases, newest first, failed ones included."""
    count = await conn.fetchval(f"SELECT count(*) {_RELEASES}", app.uuid)
    rows = await conn.fetch(
        f"SELECT {_RELEASE_COLUMNS} {_RELEASES} ORDER BY r.version DESC LIMIT $2 OFFSET $3",
        app.uuid,
        limit,
        offset,
    )
    return count, [release_public(row, app_id=app.id) for row in rows]


async def show_release(conn: asyncpg.Connection, *, app: App, version: str) -> dict[str, Any]:
    """Release `v<version>` of the app.

    Raises:
        NotFound: No such release.
    """
    number = min(int(version), MAX_VERSION + 1)
    query = f"SELECT {_RELEASE_COLUMNS} {_RELEASES} AND r.version = $2::bigint"
    row = await conn.fetchrow(query, app.uuid, number)
    if row is None:
        raise errors.NotFound("Release")
    return release_public(row, app_id=app.id)


def _target(data: dict[str, Any], *, current: int) -> int:
    """The version a rollback asks for, checked as Deis does, by Python's `int` (api.md §2.5)."""
    given = data.get("version")
    try:
        target = current - 1 if given is None else int(given)
    except (TypeError, ValueError, OverflowError) as exc:
        raise errors.BadRequest(str(exc)) from exc
    if target < 1:
        raise errors.BadRequest("version cannot be below 0")
    if target == 1:
        raise errors.BadRequest("Cannot roll back to initial release.")
    return target


async def rollback(
    conn: asyncpg.Connection, *, ctx: Context, app: App, user: User, data: dict[str, Any]
) -> int:
    """Release again the build and config of an earlier release; the new version.

    Raises:
        BadRequest: Below v2, the target failed or does not exist, or `version` is no number.
    """
    async with conn.transaction():
        await lock(conn, app=app)
        start = await base(conn, app=app)
        target = _target(data, current=start.version)
        row = await conn.fetchrow(
            "SELECT failed, config_uuid, build_uuid, b.sha FROM releases r"
            " LEFT JOIN builds b ON b.uuid = r.build_uuid"
            " WHERE r.app_uuid = $1 AND r.version = $2::bigint",
            app.uuid,
            min(target, MAX_VERSION + 1),
        )
        if row is None:
            raise errors.BadRequest("Release matching query does not exist.")
        if row["failed"]:
            raise errors.BadRequest("Cannot roll back to failed release.")
        _, version = await record(
            conn,
            ctx=ctx,
            app=app,
            user=user,
            config_uuid=row["config_uuid"],
            build_uuid=row["build_uuid"],
            summary=f"{user.username} rolled back to v{target}",
            build_sha=row["sha"] or "",
        )
    return version
