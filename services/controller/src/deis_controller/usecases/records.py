"""Typed rows every use case passes around: the user making a request and the app it targets."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

import asyncpg

from deis_controller.domain.formats import optional_timestamp, timestamp

Role = Literal["owner", "collaborator", "admin"]
"""How a user may use an app (docs/api.md §1.7)."""


@dataclass(frozen=True)
class User:
    """A registered user."""

    id: int
    username: str
    email: str
    first_name: str
    last_name: str
    is_superuser: bool
    is_staff: bool
    is_active: bool
    last_login: datetime | None
    date_joined: datetime

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> "User":
        """Build from a row of `users` (`USER_COLUMNS`)."""
        return cls(**{name: row[name] for name in cls.__dataclass_fields__})

    def public(self) -> dict[str, Any]:
        """The User object of docs/api.md §3.1."""
        return {
            "username": self.username,
            "email": self.email,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "is_superuser": self.is_superuser,
            "is_staff": self.is_staff,
            "is_active": self.is_active,
            "groups": [],
            "user_permissions": [],
            "last_login": optional_timestamp(self.last_login),
            "date_joined": timestamp(self.date_joined),
        }


USER_COLUMNS = (
    "u.id, u.username, u.email, u.first_name, u.last_name, u.is_superuser, u.is_staff,"
    " u.is_active, u.last_login, u.date_joined"
)
"""Columns of `users u` that `User.from_row` reads."""


@dataclass(frozen=True)
class App:
    """An application."""

    uuid: UUID
    id: str
    owner_id: int
    owner: str
    structure: dict[str, int]
    created: datetime
    updated: datetime

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> "App":
        """Build from a row selected with `APP_COLUMNS`."""
        return cls(**{name: row[name] for name in cls.__dataclass_fields__})

    def public(self) -> dict[str, Any]:
        """The App object of docs/api.md §3.1."""
        return {
            "uuid": str(self.uuid),
            "id": self.id,
            "owner": self.owner,
            "structure": self.structure,
            "created": timestamp(self.created),
            "updated": timestamp(self.updated),
        }


APP_COLUMNS = "a.uuid, a.id, a.owner_id, o.username AS owner, a.structure, a.created, a.updated"
"""Columns of `apps a JOIN users o ON o.id = a.owner_id` that `App.from_row` reads."""


@dataclass(frozen=True)
class AppAccess:
    """An app together with the role of the user asking for it."""

    app: App
    user: User
    role: Role

    @property
    def may_delete(self) -> bool:
        """Owners and admins may delete; collaborators may not (docs/api.md §1.7)."""
        return self.role != "collaborator"
