"""The builder's HTTP hooks (docs/api.md §2.12): key owner, app config, build, app users' keys.

The builder of this platform uses NATS (`workers.rpcs`, `workers.builds`); these hooks keep
Deis's own builder working against the controller. The caller is the builder, authenticated by
its shared key, acting for the pushing user named in the body (`receive_user`), who must be
able to use the app (`receive_repo`).
"""

from dataclasses import dataclass
from typing import Any

import asyncpg

from deis_controller import errors
from deis_controller.domain import jsondata
from deis_controller.domain.formats import timestamp
from deis_controller.usecases import access, builder, releases
from deis_controller.usecases.context import Context
from deis_controller.usecases.records import APP_COLUMNS, App, AppAccess, User

_USABLE_APP_IDS = """
SELECT a.id FROM apps a
WHERE $1 OR a.owner_id = $2
   OR EXISTS (SELECT 1 FROM app_perms p WHERE p.app_uuid = a.uuid AND p.user_id = $2)
ORDER BY a.id
"""

_APP = f"SELECT {APP_COLUMNS} FROM apps a JOIN users o ON o.id = a.owner_id WHERE a.id = $1"

_SHARED = "SELECT EXISTS (SELECT 1 FROM app_perms WHERE app_uuid = $1 AND user_id = $2)"

_CURRENT_CONFIG = """
SELECT c.uuid, o.username AS owner, c."values", c.memory, c.cpu, c.tags, c.registry,
       c.healthcheck, c.created, c.updated
FROM releases r
JOIN configs c ON c.uuid = r.config_uuid
JOIN users o ON o.id = c.owner_id
WHERE r.app_uuid = $1 AND NOT r.failed
ORDER BY r.version DESC LIMIT 1
"""

_COLLABORATOR_KEYS = """
SELECT u.username, k.public, k.fingerprint
FROM app_perms p
JOIN users u ON u.id = p.user_id
JOIN keys k ON k.owner_id = u.id
WHERE p.app_uuid = $1
ORDER BY k.created, k.id
"""

_USER_KEYS = "SELECT public, fingerprint FROM keys WHERE owner_id = $1 ORDER BY created, id"

NO_KEYS = "No Keys match the given query."

STRINGIFIED = ("values", "memory", "cpu", "tags", "registry")
"""Config fields whose values Deis renders as strings (docs/api.md §2.3)."""


@dataclass(frozen=True)
class KeyOwner:
    """The answer of the key hook."""

    username: str
    apps: list[str]


async def key_owner(conn: asyncpg.Connection, *, fingerprint: str) -> KeyOwner:
    """Who owns the key, and the apps they may use.

    Deis listed every app of the platform here; the apps the user may use are enough for its
    builder's check and say less to whoever holds the builder key.

    Raises:
        NotFound: No key has this fingerprint.
    """
    user = await builder.key_owner(conn, fingerprint=fingerprint)
    if user is None:
        raise errors.NotFound("Key")
    rows = await conn.fetch(_USABLE_APP_IDS, user.is_superuser, user.id)
    return KeyOwner(username=user.username, apps=[row["id"] for row in rows])


def _required_text(data: dict[str, Any], field: str) -> str:
    value = data.get(field)
    if not isinstance(value, str) or not value:
        raise errors.BadRequest(f"{field} is a required field")
    return value


async def _app(conn: asyncpg.Connection, *, app_id: str) -> App:
    row = await conn.fetchrow(_APP, app_id)
    if row is None:
        raise errors.NotFound("App")
    return App.from_row(row)


async def _user(conn: asyncpg.Connection, *, username: str) -> User:
    user = await builder.user_named(conn, username=username)
    if user is None:
        raise errors.NotFound("User")
    return user


async def app_user(conn: asyncpg.Connection, *, app_id: str, username: str) -> AppAccess:
    """`app_id` as `username` may use it.

    Raises:
        NotFound: No such app, or no such user.
        PermissionDenied: The user may not use the app.
    """
    app = await _app(conn, app_id=app_id)
    user = await _user(conn, username=username)
    shared = bool(await conn.fetchval(_SHARED, app.uuid, user.id))
    role = access.role_of(app=app, user=user, shared=shared)
    if role is None or not user.is_active:
        raise errors.PermissionDenied()
    return AppAccess(app=app, user=user, role=role)


async def _receiving(conn: asyncpg.Connection, *, data: dict[str, Any]) -> AppAccess:
    app_id = _required_text(data, "receive_repo")
    username = _required_text(data, "receive_user")
    return await app_user(conn, app_id=app_id, username=username)


def config_object(row: asyncpg.Record, *, app_id: str) -> dict[str, Any]:
    """The Config object of docs/api.md §3.1 from a `_CURRENT_CONFIG` row."""
    body: dict[str, Any] = {"uuid": str(row["uuid"]), "owner": row["owner"], "app": app_id}
    for field in STRINGIFIED:
        body[field] = {key: str(value) for key, value in row[field].items()}
    body["healthcheck"] = row["healthcheck"]
    body["created"] = timestamp(row["created"])
    body["updated"] = timestamp(row["updated"])
    return body


async def config(conn: asyncpg.Connection, *, data: dict[str, Any]) -> dict[str, Any]:
    """The config of the app's latest non-failed release, for the pushing user.

    Raises:
        BadRequest: `receive_repo` or `receive_user` missing.
        NotFound: Unknown app or user.
        PermissionDenied: The user may not use the app.
    """
    found = await _receiving(conn, data=data)
    row = await conn.fetchrow(_CURRENT_CONFIG, found.app.uuid)
    if row is None:
        raise errors.NotFound("Config")
    return config_object(row, app_id=found.app.id)


def _procfile(value: Any) -> dict[str, str] | None:
    """The Procfile as given: an object, a string holding one (form bodies), or nothing."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = jsondata.loads(value)
        except ValueError as exc:
            raise errors.FieldErrors.one("procfile", "Value must be valid JSON.") from exc
    if not isinstance(value, dict):
        raise errors.FieldErrors.one("procfile", "Must be a JSON object.")
    return value


def _optional_text(data: dict[str, Any], field: str, *, max_length: int | None = None) -> str:
    value = data.get(field)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise errors.FieldErrors.one(field, "Not a valid string.")
    if max_length is not None and len(value) > max_length:
        raise errors.FieldErrors.one(
            field, f"Ensure this field has no more than {max_length} characters."
        )
    return value


def _image(data: dict[str, Any]) -> str:
    value = data.get("image")
    if value is None:
        raise errors.FieldErrors.one("image", "This field is required.")
    if not isinstance(value, str):
        raise errors.FieldErrors.one("image", "Not a valid string.")
    if not value.strip():
        raise errors.FieldErrors.one("image", "This field may not be blank.")
    return value


async def build(conn: asyncpg.Connection, *, ctx: Context, data: dict[str, Any]) -> int:
    """Create a Build for the pushing user and release it; the new release's version.

    For a buildpack build (a `sha` and no Dockerfile) Deis's builder sends the slug's object
    key as `image`; it is also the slug key the scheduler fetches.

    Raises:
        BadRequest: `receive_repo` or `receive_user` missing; a rule of the release refused it.
        FieldErrors: A bad `image`, `sha`, `procfile` or `dockerfile`.
        NotFound: Unknown app or user.
        PermissionDenied: The user may not use the app.
        Conflict: The release was refused (a Procfile missing after one was used).
    """
    found = await _receiving(conn, data=data)
    image = _image(data)
    sha = _optional_text(data, "sha", max_length=40)
    dockerfile = _optional_text(data, "dockerfile")
    procfile = _procfile(data.get("procfile"))
    slug_key = image if sha and not dockerfile else None
    async with conn.transaction():
        released = await releases.release_build(
            conn,
            ctx=ctx,
            app=found.app,
            user=found.user,
            image=image,
            sha=sha,
            procfile=procfile,
            dockerfile=dockerfile,
            slug_key=slug_key,
        )
    return released.version


def _key(row: asyncpg.Record) -> dict[str, str]:
    return {"key": row["public"], "fingerprint": row["fingerprint"]}


async def app_keys(conn: asyncpg.Connection, *, app_id: str) -> dict[str, list[dict[str, str]]]:
    """The keys of the users granted the app (the owner only if granted too), oldest first.

    Raises:
        NotFound: No such app.
    """
    app = await _app(conn, app_id=app_id)
    keys: dict[str, list[dict[str, str]]] = {}
    for row in await conn.fetch(_COLLABORATOR_KEYS, app.uuid):
        keys.setdefault(row["username"], []).append(_key(row))
    return keys


async def user_keys(
    conn: asyncpg.Connection, *, app_id: str, username: str
) -> dict[str, list[dict[str, str]]]:
    """The keys of one user who may use the app, oldest first.

    Raises:
        NotFound: No such app or user.
        PermissionDenied: The user may not use the app.
        NotFoundDetail: The user has no keys.
    """
    found = await app_user(conn, app_id=app_id, username=username)
    rows = await conn.fetch(_USER_KEYS, found.user.id)
    if not rows:
        raise errors.NotFoundDetail(NO_KEYS)
    return {found.user.username: [_key(row) for row in rows]}
