"""SSH public keys of users (docs/api.md §2.10): list, add, show, remove.

Each user sees and manages only their own keys. A key's id and its fingerprint are unique
across all users: the builder finds the pushing user by the fingerprint of the key offered,
so one key may belong to one user only.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from deis_controller import errors
from deis_controller.domain import sshkeys
from deis_controller.domain.formats import timestamp
from deis_controller.usecases.records import User

KEY_IN_USE = "Public Key is already in use"
ID_TAKEN = "SSH Key with this id already exists."

_SELECT = """
SELECT k.uuid, k.id, o.username AS owner, k.public, k.fingerprint, k.created, k.updated
FROM keys k JOIN users o ON o.id = k.owner_id
"""


@dataclass(frozen=True)
class Key:
    """A registered SSH public key."""

    uuid: UUID
    id: str
    owner: str
    public: str
    fingerprint: str
    created: datetime
    updated: datetime

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> "Key":
        """Build from a row of `_SELECT`."""
        return cls(**{name: row[name] for name in cls.__dataclass_fields__})

    def public_object(self) -> dict[str, Any]:
        """The Key object of docs/api.md §3.1."""
        return {
            "uuid": str(self.uuid),
            "id": self.id,
            "owner": self.owner,
            "public": self.public,
            "fingerprint": self.fingerprint,
            "created": timestamp(self.created),
            "updated": timestamp(self.updated),
        }


async def list_keys(
    conn: asyncpg.Connection, *, user: User, limit: int, offset: int
) -> tuple[int, list[Key]]:
    """One page of the caller's keys, ordered by their public text."""
    count = await conn.fetchval("SELECT count(*) FROM keys WHERE owner_id = $1", user.id)
    rows = await conn.fetch(
        f"{_SELECT} WHERE k.owner_id = $1 ORDER BY k.public LIMIT $2 OFFSET $3",
        user.id,
        limit,
        offset,
    )
    return count, [Key.from_row(row) for row in rows]


async def get_key(conn: asyncpg.Connection, *, user: User, key_id: str) -> Key:
    """One of the caller's keys.

    Raises:
        NotFound: The caller has no key with that id.
    """
    row = await conn.fetchrow(f"{_SELECT} WHERE k.id = $1 AND k.owner_id = $2", key_id, user.id)
    if row is None:
        raise errors.NotFound("Key")
    return Key.from_row(row)


def _field(data: dict[str, Any], name: str) -> Any:
    """A required field; DRF's messages for missing and null values."""
    if name not in data:
        raise errors.FieldErrors.one(name, "This field is required.")
    if data[name] is None:
        raise errors.FieldErrors.one(name, "This field may not be null.")
    return data[name]


async def create_key(conn: asyncpg.Connection, *, user: User, data: dict[str, Any]) -> Key:
    """Register a public key for the caller; every field's problems are answered at once.

    Raises:
        FieldErrors: On `id` (missing, too long, taken) or `public` (missing, malformed,
            already registered by anyone).
    """
    problems: dict[str, list[str]] = {}
    key_id: str | None = None
    parsed: sshkeys.PublicKey | None = None
    try:
        key_id = sshkeys.validate_key_id(_field(data, "id"))
    except errors.FieldErrors as exc:
        problems.update(exc.fields)
    try:
        parsed = sshkeys.parse_public_key(_field(data, "public"))
    except errors.FieldErrors as exc:
        problems.update(exc.fields)
    if key_id is not None and await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM keys WHERE id = $1)", key_id
    ):
        problems["id"] = [ID_TAKEN]
    if parsed is not None and await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM keys WHERE fingerprint = $1 OR public = $2)",
        parsed.fingerprint,
        parsed.public,
    ):
        problems["public"] = [KEY_IN_USE]
    if problems or key_id is None or parsed is None:
        raise errors.FieldErrors(problems)
    try:
        await conn.execute(
            """
            INSERT INTO keys (uuid, id, owner_id, public, fingerprint)
            VALUES ($1, $2, $3, $4, $5)
            """,
            uuid.uuid4(),
            key_id,
            user.id,
            parsed.public,
            parsed.fingerprint,
        )
    except asyncpg.UniqueViolationError as exc:
        # Another request registered the same id or key in between.
        if exc.constraint_name == "keys_id_key":
            raise errors.FieldErrors.one("id", ID_TAKEN) from exc
        raise errors.FieldErrors.one("public", KEY_IN_USE) from exc
    return await get_key(conn, user=user, key_id=key_id)


async def delete_key(conn: asyncpg.Connection, *, user: User, key_id: str) -> None:
    """Remove one of the caller's keys.

    Raises:
        NotFound: The caller has no key with that id.
    """
    status = await conn.execute("DELETE FROM keys WHERE id = $1 AND owner_id = $2", key_id, user.id)
    if status == "DELETE 0":
        raise errors.NotFound("Key")
