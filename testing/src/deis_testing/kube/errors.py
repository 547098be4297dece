"""API errors shaped as the Kubernetes API server sends them: `Status` objects.

    ApiError (code, reason, message, details)
    ├── not_found            404 NotFound
    ├── already_exists       409 AlreadyExists
    ├── conflict             409 Conflict (stale resourceVersion)
    ├── invalid              422 Invalid (the object fails validation)
    ├── bad_request          400 BadRequest
    ├── forbidden            403 Forbidden (e.g. a namespace being terminated)
    ├── expired              410 Expired (a watch from a compacted resourceVersion)
    ├── method_not_allowed   405 MethodNotAllowed
    └── unsupported_media    415 UnsupportedMediaType

The messages copy the API server's wording, which clients (and people) match on.
"""

from typing import Any

from deis_testing.kube.kinds import Kind


class ApiError(Exception):
    """An error answer: the HTTP code and the body of a `Status`."""

    def __init__(
        self, code: int, reason: str, message: str, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(f"{code} {reason}: {message}")
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def status(self) -> dict[str, Any]:
        """The `Status` object to send."""
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details is not None:
            body["details"] = self.details
        return body


def _details(kind: Kind, name: str) -> dict[str, Any]:
    details: dict[str, Any] = {"name": name, "kind": kind.plural}
    if kind.group:
        details["group"] = kind.group
    return details


def not_found(kind: Kind, name: str) -> ApiError:
    """404: no object of `kind` is called `name`."""
    return ApiError(404, "NotFound", f'{kind.resource} "{name}" not found', _details(kind, name))


def already_exists(kind: Kind, name: str) -> ApiError:
    """409: an object of `kind` is already called `name`."""
    message = f'{kind.resource} "{name}" already exists'
    return ApiError(409, "AlreadyExists", message, _details(kind, name))


def conflict(kind: Kind, name: str) -> ApiError:
    """409: the write names a resourceVersion that is no longer the object's."""
    message = (
        f'Operation cannot be fulfilled on {kind.resource} "{name}": the object has been '
        "modified; please apply your changes to the latest version and try again"
    )
    return ApiError(409, "Conflict", message, _details(kind, name))


def invalid(kind: Kind, name: str, problems: list[tuple[str, str]]) -> ApiError:
    """422: the object is not valid; `problems` are (field, message) pairs."""
    text = ", ".join(f"{field}: {message}" if field else message for field, message in problems)
    details = {
        "name": name,
        "kind": kind.kind,
        "causes": [
            {"reason": "FieldValueInvalid", "message": message, "field": field}
            for field, message in problems
        ],
    }
    if kind.group:
        details["group"] = kind.group
    return ApiError(422, "Invalid", f'{kind.kind} "{name}" is invalid: {text}', details)


def bad_request(message: str) -> ApiError:
    """400: the request itself is malformed."""
    return ApiError(400, "BadRequest", message)


def forbidden(message: str, details: dict[str, Any] | None = None) -> ApiError:
    """403: the request is refused (no authorisation is modelled; namespace termination is)."""
    return ApiError(403, "Forbidden", message, details)


def expired(asked: int, oldest: int) -> ApiError:
    """410: a watch asks for history older than the server keeps."""
    return ApiError(410, "Expired", f"too old resource version: {asked} ({oldest})")


def method_not_allowed(method: str) -> ApiError:
    """405: the path does not serve this method."""
    return ApiError(405, "MethodNotAllowed", f"the server does not allow this method: {method}")


def unsupported_media(content_type: str) -> ApiError:
    """415: e.g. server-side apply, which the emulator does not do."""
    return ApiError(
        415,
        "UnsupportedMediaType",
        f"the body of the request was in an unknown format - accepted "
        f"media types include: application/json-patch+json, application/merge-patch+json, "
        f'application/strategic-merge-patch+json (got "{content_type}")',
    )
