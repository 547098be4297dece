"""Request-body models for the OpenAPI document; validation itself is in the use cases.

They describe what the SDK sends. `extra` is allowed, as DRF ignores unknown fields.
"""

from pydantic import BaseModel, ConfigDict


class Body(BaseModel):
    """Base: unknown fields are ignored, as DRF does."""

    model_config = ConfigDict(extra="allow")


class RegisterBody(Body):
    """`POST /v2/auth/register/`."""

    username: str
    password: str
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None


class LoginBody(Body):
    """`POST /v2/auth/login/`."""

    username: str
    password: str


class PasswdBody(Body):
    """`POST /v2/auth/passwd/`."""

    new_password: str
    password: str | None = None
    username: str | None = None


class UsernameBody(Body):
    """A body naming a user (cancel, admin perms, app perms)."""

    username: str | None = None


class TokensBody(Body):
    """`POST /v2/auth/tokens/`."""

    username: str | None = None
    all: bool | None = None


class AppCreateBody(Body):
    """`POST /v2/apps/`."""

    id: str | None = None


class AppTransferBody(Body):
    """`POST /v2/apps/<id>/`."""

    owner: str | None = None
