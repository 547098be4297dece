"""Response models for the OpenAPI document (docs/api.md §3.1).

Routes build their JSON by hand for speed and return it as a `JSONResponse`, so FastAPI does
not validate responses against these; the schemathesis test does, against a running server.
Request bodies are in `api.requests`.
"""

from typing import Generic, TypeVar

from pydantic import BaseModel, Field

Item = TypeVar("Item")


class Paginated(BaseModel, Generic[Item]):
    """DRF's limit/offset envelope."""

    count: int
    next: str | None
    previous: str | None
    results: list[Item]


class UserOut(BaseModel):
    """A user."""

    username: str
    email: str
    first_name: str
    last_name: str
    is_superuser: bool
    is_staff: bool
    is_active: bool
    groups: list[str]
    user_permissions: list[str]
    last_login: str | None
    date_joined: str


class AdminOut(BaseModel):
    """An admin, as the admin-perms list shows them."""

    username: str
    is_superuser: bool


class TokenOut(BaseModel):
    """An API token."""

    token: str = Field(pattern=r"^[0-9a-f]{40}$")


class StatusOut(BaseModel):
    """A one-word status."""

    status: str


class AppOut(BaseModel):
    """An app."""

    uuid: str
    id: str
    owner: str
    structure: dict[str, int]
    created: str
    updated: str
