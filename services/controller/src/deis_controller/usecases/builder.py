"""What the builder asks before a `git push`: who owns an SSH key, and may that user push.

Both answer the builder's RPCs (`deis_shared.rpc.controller`) and the key hook of §2.12.
Membership is exact, as everywhere in the controller: the owner, a collaborator granted the
app, or an admin (Deis's builder checked that the app list *contained* the repo name).
"""

from dataclasses import dataclass

import asyncpg

from deis_controller.usecases.records import USER_COLUMNS, User
from deis_shared.errors import PermanentError

_KEY_OWNER = f"""
SELECT {USER_COLUMNS} FROM keys k JOIN users u ON u.id = k.owner_id WHERE k.fingerprint = $1
"""

_USER = f"SELECT {USER_COLUMNS} FROM users u WHERE u.username = $1"

_MEMBERSHIP = """
SELECT a.owner_id,
       EXISTS (SELECT 1 FROM app_perms p WHERE p.app_uuid = a.uuid AND p.user_id = $2) AS shared
FROM apps a WHERE a.id = $1
"""


@dataclass(frozen=True)
class Decision:
    """Whether a user may push to an app, with the one-line reason shown when not."""

    allowed: bool
    reason: str = ""


async def key_owner(conn: asyncpg.Connection, *, fingerprint: str) -> User | None:
    """The user who registered the SSH key with this MD5 fingerprint, or `None`."""
    row = await conn.fetchrow(_KEY_OWNER, fingerprint.strip().lower())
    return None if row is None else User.from_row(row)


async def user_named(conn: asyncpg.Connection, *, username: str) -> User | None:
    """The user called `username`, or `None`."""
    row = await conn.fetchrow(_USER, username)
    return None if row is None else User.from_row(row)


async def authorize(conn: asyncpg.Connection, *, username: str, app_id: str) -> Decision:
    """May `username` push to `app_id`? Owner, collaborator or admin; active users only."""
    user = await user_named(conn, username=username)
    if user is None:
        return Decision(allowed=False, reason=f"unknown user {username}")
    if not user.is_active:
        return Decision(allowed=False, reason=f"user {username} is inactive")
    row = await conn.fetchrow(_MEMBERSHIP, app_id, user.id)
    if row is None:
        return Decision(allowed=False, reason=f"app {app_id} does not exist")
    if row["owner_id"] == user.id or user.is_superuser or row["shared"]:
        return Decision(allowed=True)
    return Decision(allowed=False, reason=f"{username} may not use app {app_id}")


class UnknownTarget(PermanentError):
    """An event names an app or a user the controller does not know: nothing can be done."""
