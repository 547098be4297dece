"""Users and credentials: register, login, password, tokens, cancel, admins (docs/api.md §2.1)."""

import asyncio
import re
from typing import Any

import asyncpg

from deis_controller import errors
from deis_controller.domain import credentials
from deis_controller.usecases.context import Context
from deis_controller.usecases.records import USER_COLUMNS, User

USERNAME = re.compile(r"^[\w.@+-]+$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

BAD_USERNAME = (
    "Enter a valid username. This value may contain only letters, numbers and @/./+/-/_ characters."
)
BLANK = "This field may not be blank."
REQUIRED = "This field is required."


def _text(data: dict[str, Any], field: str, problems: dict[str, list[str]]) -> str | None:
    value = data.get(field)
    if value is None:
        return None
    if not isinstance(value, str):
        problems[field] = ["Not a valid string."]
        return None
    return value


def validate_registration(data: dict[str, Any]) -> dict[str, str]:
    """Check a registration body; the cleaned fields.

    Raises:
        FieldErrors: With DRF's messages, which the CLI matches on.
    """
    problems: dict[str, list[str]] = {}
    username = _text(data, "username", problems)
    password = _text(data, "password", problems)
    cleaned: dict[str, str] = {}
    if "username" not in problems:
        if username is None:
            problems["username"] = [REQUIRED]
        elif not username.strip():
            problems["username"] = [BLANK]
        elif len(username) > 150:
            problems["username"] = ["Ensure this field has no more than 150 characters."]
        elif not USERNAME.fullmatch(username):
            problems["username"] = [BAD_USERNAME]
        else:
            cleaned["username"] = username
    if "password" not in problems:
        if password is None:
            problems["password"] = [REQUIRED]
        elif not password:
            problems["password"] = [BLANK]
        else:
            cleaned["password"] = password
    for field in ("email", "first_name", "last_name"):
        value = _text(data, field, problems)
        if value is None:
            continue
        value = value.strip()
        limit = 254 if field == "email" else 150
        if len(value) > limit:
            problems[field] = [f"Ensure this field has no more than {limit} characters."]
        elif field == "email" and value and not EMAIL.fullmatch(value):
            problems[field] = ["Enter a valid email address."]
        else:
            cleaned[field] = value
    if problems:
        raise errors.FieldErrors(problems)
    return cleaned


async def _issue_token(conn: asyncpg.Connection, *, user_id: int) -> str:
    token = credentials.new_token()
    await conn.execute(
        "INSERT INTO tokens (token_hash, user_id) VALUES ($1, $2)",
        credentials.token_hash(token),
        user_id,
    )
    return token


async def register(
    conn: asyncpg.Connection, *, ctx: Context, caller: User | None, data: dict[str, Any]
) -> User:
    """Create a user (the first one becomes admin), with a token.

    Raises:
        PermissionDenied: Registration is disabled, or admin-only and the caller no admin.
        FieldErrors: Bad or taken username, missing password, bad email.
    """
    mode = ctx.settings.registration_mode
    if mode == "disabled":
        raise errors.PermissionDenied("Registration is disabled")
    cleaned = validate_registration(data)
    password_hash = await asyncio.to_thread(ctx.passwords.hash, cleaned.pop("password"))
    async with conn.transaction():
        # Serialise registrations so exactly one first user becomes admin.
        await conn.execute("LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE")
        has_admin = await conn.fetchval("SELECT EXISTS (SELECT 1 FROM users WHERE is_superuser)")
        if mode == "admin_only" and has_admin and (caller is None or not caller.is_superuser):
            raise errors.PermissionDenied()
        first = not await conn.fetchval("SELECT EXISTS (SELECT 1 FROM users)")
        taken = await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM users WHERE username = $1)", cleaned["username"]
        )
        if taken:
            raise errors.FieldErrors.one("username", "A user with that username already exists.")
        row = await conn.fetchrow(
            f"""
            INSERT INTO users AS u (username, email, first_name, last_name, password_hash,
                                    is_superuser, is_staff)
            VALUES ($1, $2, $3, $4, $5, $6, $6)
            RETURNING {USER_COLUMNS}
            """,
            cleaned["username"],
            cleaned.get("email", ""),
            cleaned.get("first_name", ""),
            cleaned.get("last_name", ""),
            password_hash,
            first,
        )
        assert row is not None
        user = User.from_row(row)
        await _issue_token(conn, user_id=user.id)
    return user


async def login(conn: asyncpg.Connection, *, ctx: Context, data: dict[str, Any]) -> str:
    """A new token for a correct username and password.

    Raises:
        FieldErrors: Missing fields, or wrong credentials (`non_field_errors`).
    """
    problems: dict[str, list[str]] = {}
    for field in ("username", "password"):
        value = data.get(field)
        if value is None:
            problems[field] = [REQUIRED]
        elif not isinstance(value, str) or not value:
            problems[field] = [BLANK if value == "" else "Not a valid string."]
    if problems:
        raise errors.FieldErrors(problems)
    row = await conn.fetchrow(
        "SELECT id, password_hash, is_active FROM users WHERE username = $1", data["username"]
    )
    if row is None:
        # Spend the same time as a real check, so timing does not reveal unknown usernames.
        await asyncio.to_thread(ctx.passwords.hash, data["password"])
        matches = False
    else:
        matches = await asyncio.to_thread(
            ctx.passwords.verify, row["password_hash"], data["password"]
        )
    if row is None or not matches or not row["is_active"]:
        raise errors.FieldErrors.one(
            "non_field_errors", "Unable to log in with provided credentials."
        )
    async with conn.transaction():
        await conn.execute("UPDATE users SET last_login = now() WHERE id = $1", row["id"])
        return await _issue_token(conn, user_id=row["id"])


async def _target(conn: asyncpg.Connection, *, caller: User, username: Any) -> User:
    """The user an admin names in the body, or the caller themself."""
    if username is None or username == caller.username:
        return caller
    if not caller.is_superuser:
        raise errors.PermissionDenied()
    if not isinstance(username, str):
        raise errors.NotFound("User")
    row = await conn.fetchrow(f"SELECT {USER_COLUMNS} FROM users u WHERE u.username = $1", username)
    if row is None:
        raise errors.NotFound("User")
    return User.from_row(row)


async def change_password(
    conn: asyncpg.Connection, *, ctx: Context, caller: User, data: dict[str, Any]
) -> None:
    """Set a new password: one's own with the current one, or anyone's as an admin.

    Raises:
        BadRequest: A required field is missing.
        NotAuthenticated: The current password is wrong.
        PermissionDenied: A non-admin names another user.
        NotFound: The named user does not exist.
    """
    new_password = data.get("new_password")
    if not isinstance(new_password, str) or not new_password:
        raise errors.BadRequest("new_password is a required field")
    target = await _target(conn, caller=caller, username=data.get("username"))
    if not caller.is_superuser:
        current = data.get("password")
        if not isinstance(current, str) or not current:
            raise errors.BadRequest("password is a required field")
        encoded = await conn.fetchval("SELECT password_hash FROM users WHERE id = $1", caller.id)
        if not await asyncio.to_thread(ctx.passwords.verify, encoded, current):
            raise errors.NotAuthenticated("Current password does not match")
    encoded = await asyncio.to_thread(ctx.passwords.hash, new_password)
    await conn.execute("UPDATE users SET password_hash = $1 WHERE id = $2", encoded, target.id)


async def cancel(conn: asyncpg.Connection, *, caller: User, data: dict[str, Any]) -> None:
    """Delete an account: one's own, or anyone's as an admin.

    Raises:
        PermissionDenied: A non-admin names another user.
        NotFound: The named user does not exist.
        Conflict: The user still owns apps or other objects.
    """
    target = await _target(conn, caller=caller, username=data.get("username"))
    async with conn.transaction():
        owns_apps = await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM apps WHERE owner_id = $1)", target.id
        )
        if owns_apps:
            raise errors.Conflict(
                f"{target.username} still has applications assigned. Delete or transfer ownership"
            )
        try:
            async with conn.transaction():
                await conn.execute("DELETE FROM users WHERE id = $1", target.id)
        except asyncpg.ForeignKeyViolationError as exc:
            raise errors.Conflict(
                f"{target.username} still owns certificates, releases or other objects. "
                "Delete or transfer them first"
            ) from exc


async def regenerate_tokens(
    conn: asyncpg.Connection, *, caller: User, data: dict[str, Any]
) -> str | None:
    """Revoke a user's tokens and issue one new token; `all` does it for every user.

    Returns:
        The new token, or `None` for `all` (every user must log in again).

    Raises:
        PermissionDenied: A non-admin names another user or `all`.
        NotFound: The named user does not exist.
    """
    if data.get("all") in (True, "true", "True"):
        if not caller.is_superuser:
            raise errors.PermissionDenied()
        await conn.execute("DELETE FROM tokens")
        return None
    target = await _target(conn, caller=caller, username=data.get("username"))
    async with conn.transaction():
        await conn.execute("DELETE FROM tokens WHERE user_id = $1", target.id)
        return await _issue_token(conn, user_id=target.id)


async def list_users(
    conn: asyncpg.Connection, *, limit: int, offset: int
) -> tuple[int, list[User]]:
    """One page of every user, by username."""
    count = await conn.fetchval("SELECT count(*) FROM users")
    rows = await conn.fetch(
        f"SELECT {USER_COLUMNS} FROM users u ORDER BY u.username LIMIT $1 OFFSET $2",
        limit,
        offset,
    )
    return count, [User.from_row(row) for row in rows]


async def list_admins(
    conn: asyncpg.Connection, *, limit: int, offset: int
) -> tuple[int, list[dict[str, Any]]]:
    """One page of active admins, as `{"username", "is_superuser"}`."""
    where = "WHERE is_superuser AND is_active"
    count = await conn.fetchval(f"SELECT count(*) FROM users {where}")
    rows = await conn.fetch(
        f"SELECT username, is_superuser FROM users {where} ORDER BY username LIMIT $1 OFFSET $2",
        limit,
        offset,
    )
    return count, [dict(row) for row in rows]


async def set_admin(conn: asyncpg.Connection, *, username: Any, admin: bool) -> None:
    """Grant or revoke admin rights (superuser and staff).

    Raises:
        NotFound: No such user.
    """
    if not isinstance(username, str):
        raise errors.NotFound("User")
    status = await conn.execute(
        "UPDATE users SET is_superuser = $2, is_staff = $2 WHERE username = $1", username, admin
    )
    if status == "UPDATE 0":
        raise errors.NotFound("User")
