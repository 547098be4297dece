"""Builds: list, create (which releases the build) and show (docs/api.md §2.4).

`GET /builds/<uuid>/` answers the build with that uuid. Upstream answered the latest release's
build whatever the uuid (docs/api.md §6 lists it as a bug worth fixing); the SDK only ever asks for
builds it has just listed, so the exact answer is compatible and not surprising.
"""

import uuid
from typing import Any

import asyncpg

from deis_controller import errors
from deis_controller.domain import jsondata
from deis_controller.usecases import releases
from deis_controller.usecases.context import Context
from deis_controller.usecases.records import App, User

SHA_MAX = 40
"""`sha` is at most a full git sha."""

_BUILDS = "FROM builds b JOIN users o ON o.id = b.owner_id WHERE b.app_uuid = $1"


def _text(data: dict[str, Any], field: str, *, required: bool = False) -> str:
    """A string field as DRF's `CharField` reads it: trimmed, blank only if optional."""
    value = data.get(field)
    if value is None:
        if field in data:
            raise errors.FieldErrors.one(field, "This field may not be null.")
        if required:
            raise errors.FieldErrors.one(field, "This field is required.")
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise errors.FieldErrors.one(field, "Not a valid string.")
    text = str(value).strip()
    if required and not text:
        raise errors.FieldErrors.one(field, "This field may not be blank.")
    return text


def _procfile(data: dict[str, Any]) -> Any:
    """The Procfile as given: an object, or a string holding one (form bodies)."""
    value = data.get("procfile")
    if isinstance(value, str):
        try:
            return jsondata.loads(value) if value.strip() else {}
        except ValueError as exc:
            raise errors.FieldErrors.one("procfile", "Value must be valid JSON.") from exc
    return value


async def create_build(
    conn: asyncpg.Connection, *, ctx: Context, app: App, user: User, data: dict[str, Any]
) -> dict[str, Any]:
    """Create a build from an image (`deis pull`) and release it; the Build object.

    Raises:
        FieldErrors: No image, a sha over 40 characters, or a bad Procfile.
        Conflict: No Procfile after one, when the settings reject that.
    """
    image = _text(data, "image", required=True)
    sha = _text(data, "sha")
    if len(sha) > SHA_MAX:
        raise errors.FieldErrors.one(
            "sha", f"Ensure this field has no more than {SHA_MAX} characters."
        )
    dockerfile = _text(data, "dockerfile")
    released = await releases.release_build(
        conn,
        ctx=ctx,
        app=app,
        user=user,
        image=image,
        sha=sha,
        procfile=_procfile(data),
        dockerfile=dockerfile,
    )
    return released.build


async def list_builds(
    conn: asyncpg.Connection, *, app: App, limit: int, offset: int
) -> tuple[int, list[dict[str, Any]]]:
    """One page of the app's builds, newest first."""
    count = await conn.fetchval(f"SELECT count(*) {_BUILDS}", app.uuid)
    rows = await conn.fetch(
        f"""
        SELECT {releases.BUILD_COLUMNS} {_BUILDS}
        ORDER BY b.created DESC, b.uuid LIMIT $2 OFFSET $3
        """,
        app.uuid,
        limit,
        offset,
    )
    return count, [releases.build_public(row, app_id=app.id) for row in rows]


async def show_build(conn: asyncpg.Connection, *, app: App, build_id: str) -> dict[str, Any]:
    """The app's build with this uuid.

    Raises:
        NotFound: No such build of this app (or not a uuid at all).
    """
    try:
        build_uuid = uuid.UUID(build_id)
    except ValueError as exc:
        raise errors.NotFound("Build") from exc
    row = await conn.fetchrow(
        f"SELECT {releases.BUILD_COLUMNS} {_BUILDS} AND b.uuid = $2", app.uuid, build_uuid
    )
    if row is None:
        raise errors.NotFound("Build")
    return releases.build_public(row, app_id=app.id)
