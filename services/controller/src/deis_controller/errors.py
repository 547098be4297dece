"""Errors of the controller's use cases, each carrying the HTTP answer Deis gives for it.

Use cases raise these; one exception handler in `api.errors` turns them into responses
(docs/api.md §1.6). Nothing below the API layer knows about FastAPI.

    ApiError
    ├── FieldErrors          400 {"<field>": ["msg", ...]}
    ├── BadRequest           400 {"detail": "..."}
    ├── BareListError        400 ["msg", ...]
    ├── NotAuthenticated     401 {"detail": "..."} + WWW-Authenticate: Token
    ├── PermissionDenied     403 {"detail": "..."}
    ├── NotFound             404 "No <Model> matches the given query."  (a bare JSON string)
    ├── NotFoundDetail       404 {"detail": "..."}
    ├── Conflict             409 {"detail": "..."}
    ├── PayloadTooLarge      413 {"detail": "..."}
    ├── Unprocessable        422 {"detail": "..."}
    └── ServiceUnavailable   503 {"detail": "..."}
"""

from typing import Any

from deis_shared.errors import DeisError


class ApiError(DeisError):
    """An error with a Deis-compatible HTTP status and body."""

    status: int = 500

    def body(self) -> Any:
        """The JSON body of the response."""
        return {"detail": str(self)}


class FieldErrors(ApiError):
    """Validation failed for named fields."""

    status = 400

    def __init__(self, fields: dict[str, list[str]]) -> None:
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in fields.items()))
        self.fields = fields

    @classmethod
    def one(cls, field: str, message: str) -> "FieldErrors":
        """A single message on a single field."""
        return cls({field: [message]})

    def body(self) -> Any:
        """`{"<field>": ["msg", ...]}`."""
        return self.fields


class BadRequest(ApiError):
    """A business rule refused the request."""

    status = 400


class BareListError(ApiError):
    """Deis's whitelist validation answers a bare list of messages."""

    status = 400

    def __init__(self, messages: list[str]) -> None:
        super().__init__("; ".join(messages))
        self.messages = messages

    def body(self) -> Any:
        """`["msg", ...]`."""
        return self.messages


class NotAuthenticated(ApiError):
    """No valid credentials."""

    status = 401

    def __init__(self, detail: str = "Authentication credentials were not provided.") -> None:
        super().__init__(detail)


class PermissionDenied(ApiError):
    """Authenticated, but not allowed."""

    status = 403

    def __init__(self, detail: str = "You do not have permission to perform this action.") -> None:
        super().__init__(detail)


class NotFound(ApiError):
    """An object lookup missed; Deis answers a bare JSON string naming the model."""

    status = 404

    def __init__(self, model: str) -> None:
        super().__init__(f"No {model} matches the given query.")

    def body(self) -> Any:
        """`"No <Model> matches the given query."`."""
        return str(self)


class NotFoundDetail(ApiError):
    """Something named in the request does not exist; answered as `{"detail"}`."""

    status = 404


class Conflict(ApiError):
    """The request conflicts with the current state (or changes nothing)."""

    status = 409


class PayloadTooLarge(ApiError):
    """The request body is larger than the controller takes."""

    status = 413


class Unprocessable(ApiError):
    """Well-formed but impossible, such as unsetting a key that is not set."""

    status = 422


class ServiceUnavailable(ApiError):
    """Another service needed for the answer is unavailable."""

    status = 503

    def __init__(self, detail: str = "Service temporarily unavailable, try again later.") -> None:
        super().__init__(detail)
