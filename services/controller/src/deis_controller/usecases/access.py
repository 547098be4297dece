"""Who may do what: token authentication and app access (docs/api.md §1.2, §1.7)."""

import asyncpg

from deis_controller import errors
from deis_controller.domain.credentials import token_hash
from deis_controller.usecases.records import APP_COLUMNS, USER_COLUMNS, App, AppAccess, Role, User

_USER_BY_TOKEN = f"""
SELECT {USER_COLUMNS} FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1
"""

_USER_AND_APP = f"""
SELECT {USER_COLUMNS},
       a.uuid AS app_uuid, a.id AS app_id, a.owner_id AS app_owner_id, o.username AS app_owner,
       a.structure AS app_structure, a.created AS app_created, a.updated AS app_updated,
       EXISTS (SELECT 1 FROM app_perms p WHERE p.app_uuid = a.uuid AND p.user_id = u.id)
           AS shared
FROM tokens t
JOIN users u ON u.id = t.user_id
LEFT JOIN apps a ON a.id = $2
LEFT JOIN users o ON o.id = a.owner_id
WHERE t.token_hash = $1
"""

_APP_WITH_SHARE = f"""
SELECT {APP_COLUMNS},
       EXISTS (SELECT 1 FROM app_perms p WHERE p.app_uuid = a.uuid AND p.user_id = $2) AS shared
FROM apps a JOIN users o ON o.id = a.owner_id
WHERE a.id = $1
"""


def parse_authorization(header: str | None) -> str | None:
    """The token in an `Authorization: token <key>` header, as DRF reads it.

    Returns:
        The key, or `None` when the header is absent or uses another scheme.

    Raises:
        NotAuthenticated: The header says `token` but carries no key, or a key with spaces.
    """
    if not header:
        return None
    parts = header.split()
    if not parts or parts[0].lower() != "token":
        return None
    if len(parts) == 1:
        raise errors.NotAuthenticated("Invalid token header. No credentials provided.")
    if len(parts) > 2:
        raise errors.NotAuthenticated(
            "Invalid token header. Token string should not contain spaces."
        )
    return parts[1]


async def user_for_token(conn: asyncpg.Connection, *, token: str) -> User:
    """The active user holding `token`.

    Raises:
        NotAuthenticated: No user holds it, or the user is inactive.
    """
    row = await conn.fetchrow(_USER_BY_TOKEN, token_hash(token))
    if row is None:
        raise errors.NotAuthenticated("Invalid token.")
    user = User.from_row(row)
    if not user.is_active:
        raise errors.NotAuthenticated("User inactive or deleted.")
    return user


async def authenticate(conn: asyncpg.Connection, *, header: str | None) -> User:
    """The user an `Authorization` header names.

    Raises:
        NotAuthenticated: Missing, malformed or unknown credentials.
    """
    token = parse_authorization(header)
    if token is None:
        raise errors.NotAuthenticated()
    return await user_for_token(conn, token=token)


async def optional_user(conn: asyncpg.Connection, *, header: str | None) -> User | None:
    """Like `authenticate`, but any failure means anonymous (Deis's registration endpoint)."""
    try:
        return await authenticate(conn, header=header)
    except errors.NotAuthenticated:
        return None


def role_of(*, app: App, user: User, shared: bool) -> Role | None:
    """The role `user` has on `app`, or `None` when they may not use it.

    Membership is exact: the owner, a user granted the app, or an admin. (Deis's builder
    checked a substring of the app list; that is a bug not copied here.)
    """
    if app.owner_id == user.id:
        return "owner"
    if user.is_superuser:
        return "admin"
    if shared:
        return "collaborator"
    return None


async def app_for(conn: asyncpg.Connection, *, app_id: str, user: User) -> AppAccess:
    """The app `app_id` as `user` may use it.

    Raises:
        NotFound: No such app.
        PermissionDenied: The user may not use it.
    """
    row = await conn.fetchrow(_APP_WITH_SHARE, app_id, user.id)
    if row is None:
        raise errors.NotFound("App")
    app = App.from_row(row)
    role = role_of(app=app, user=user, shared=row["shared"])
    if role is None:
        raise errors.PermissionDenied()
    return AppAccess(app=app, user=user, role=role)


async def authenticated_app(
    conn: asyncpg.Connection, *, header: str | None, app_id: str
) -> AppAccess:
    """`authenticate` and `app_for` in one round trip: the hot path of every app route.

    Raises:
        NotAuthenticated: Missing, malformed or unknown credentials.
        NotFound: No such app.
        PermissionDenied: The user may not use it.
    """
    token = parse_authorization(header)
    if token is None:
        raise errors.NotAuthenticated()
    row = await conn.fetchrow(_USER_AND_APP, token_hash(token), app_id)
    if row is None:
        raise errors.NotAuthenticated("Invalid token.")
    user = User.from_row(row)
    if not user.is_active:
        raise errors.NotAuthenticated("User inactive or deleted.")
    if row["app_uuid"] is None:
        raise errors.NotFound("App")
    app = App(
        uuid=row["app_uuid"],
        id=row["app_id"],
        owner_id=row["app_owner_id"],
        owner=row["app_owner"],
        structure=row["app_structure"],
        created=row["app_created"],
        updated=row["app_updated"],
    )
    role = role_of(app=app, user=user, shared=row["shared"])
    if role is None:
        raise errors.PermissionDenied()
    return AppAccess(app=app, user=user, role=role)


def require_owner(access: AppAccess) -> None:
    """Only the owner or an admin may go on.

    Raises:
        PermissionDenied: The user is a collaborator.
    """
    if not access.may_delete:
        raise errors.PermissionDenied()


def require_admin(user: User) -> None:
    """Only an admin may go on.

    Raises:
        PermissionDenied: The user is not an admin.
    """
    if not user.is_superuser:
        raise errors.PermissionDenied()
