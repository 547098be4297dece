"""The controller's REST API over HTTP, with Deis's transport conventions (docs/api.md §1).

Every request carries `Authorization: token <t>` (when logged in), `Content-Type:
application/json` and a `User-Agent`; every answer is checked for `DEIS_API_VERSION`. Errors
become `ApiError` with the body flattened to one line; transport failures become
`ControllerUnreachable`. This module never prints a token, nor a request's headers.
"""

import json
from collections.abc import Iterator
from types import TracebackType
from typing import Any, Self

import httpx

from deis_cli import errors, rendering

API_VERSION = "2.3"
"""The API version this client speaks."""

USER_AGENT = "Deis Client v2.3.0 (deis-cli)"

TIMEOUT = httpx.Timeout(200.0, connect=10.0)
"""Most calls answer at once; those that make a release answer once it rolled out (the
controller gives up waiting after its `rollout_wait`, 180 s by default)."""

FOREVER = httpx.Timeout(None, connect=10.0)
"""`run` waits for the command, `logs -f` for lines."""


def _flatten(body: Any) -> str:
    """One line from Deis's error shapes: a string, `{"detail"}`, field errors or a list."""
    if isinstance(body, str):
        return body
    if isinstance(body, list):
        return "; ".join(_flatten(item) for item in body)
    if isinstance(body, dict):
        if set(body) == {"detail"}:
            return _flatten(body["detail"])
        parts = []
        for field, value in body.items():
            text = _flatten(value)
            parts.append(text if field in ("detail", "non_field_errors") else f"{field}: {text}")
        return "; ".join(parts)
    return "" if body is None else str(body)


def describe(response: httpx.Response) -> str:
    """The error message of a failed response, on one line."""
    text = response.text.strip()
    if not text:
        return ""
    try:
        detail = _flatten(json.loads(text))
    except ValueError:
        if text.lstrip().startswith("<"):  # an HTML page: the URL matched no route
            return "no such resource" if response.status_code == 404 else ""
        detail = text
    return " ".join(detail.split())


def _version_mismatch(server: str | None) -> bool:
    # Deis compares majors as numbers and minors as strings (docs/api.md §1.3).
    if server is None:
        return False
    ours, theirs = API_VERSION.split("."), server.split(".")
    return len(theirs) < 2 or theirs[0] != ours[0] or theirs[1] < ours[1]


class Client:
    """A connection to one controller; a context manager that closes it."""

    def __init__(self, controller: str, *, token: str = "", ssl_verify: bool = True) -> None:
        headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
        if token:
            headers["Authorization"] = f"token {token}"
        self.controller = controller.rstrip("/")
        self._http = httpx.Client(
            base_url=self.controller, headers=headers, verify=ssl_verify, timeout=TIMEOUT
        )
        self._warned = False

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool; safe to call twice."""
        self._http.close()

    def _check_version(self, response: httpx.Response) -> None:
        if not self._warned and _version_mismatch(response.headers.get("DEIS_API_VERSION")):
            self._warned = True
            rendering.warn(
                f"WARNING: Client and server API versions do not match. Please consider "
                f"upgrading. Client version: {API_VERSION}. Server version: "
                f"{response.headers.get('DEIS_API_VERSION')}."
            )

    def _transport_error(self, exc: httpx.TransportError) -> errors.ControllerUnreachable:
        if isinstance(exc, httpx.ConnectError):
            reason = str(exc) or "connection refused"
            if "refused" in reason.lower():
                reason = "connection refused"
            return errors.ControllerUnreachable(
                f"cannot reach the controller at {self.controller}: {reason}"
            )
        if isinstance(exc, httpx.TimeoutException):
            return errors.ControllerUnreachable(
                f"the controller at {self.controller} did not answer in time"
            )
        return errors.ControllerUnreachable(
            f"talking to the controller at {self.controller} failed: {exc}"
        )

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: dict[str, Any] | None = None,
        timeout: httpx.Timeout | None = None,
        ok: tuple[int, ...] = (),
    ) -> httpx.Response:
        """Send one request; the response if its status is 2xx (or in `ok`).

        Raises:
            ApiError: Any other status.
            ControllerUnreachable: The controller could not be reached.
        """
        content = None if body is None else json.dumps(body).encode()
        try:
            response = self._http.request(
                method, path, content=content, params=params, timeout=timeout or TIMEOUT
            )
        except httpx.TransportError as exc:
            raise self._transport_error(exc) from exc
        self._check_version(response)
        if response.is_success or response.status_code in ok:
            return response
        raise errors.ApiError(response.status_code, describe(response))

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        """`request`, then the body as JSON (None when empty)."""
        response = self.request(method, path, **kwargs)
        if not response.content.strip():
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise errors.CliError(
                f"the controller answered {method} {path} with something other than JSON"
            ) from exc

    def get(self, path: str, **kwargs: Any) -> Any:
        """GET `path` as JSON."""
        return self.json("GET", path, **kwargs)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> Any:
        """POST `body` to `path`; the answer as JSON."""
        return self.json("POST", path, body=body, **kwargs)

    def delete(self, path: str, body: Any = None) -> None:
        """DELETE `path`."""
        self.request("DELETE", path, body=body)

    def page(self, path: str, *, limit: int) -> tuple[list[Any], int]:
        """A paginated list's first `limit` results and the total count.

        Raises:
            CliError: The answer lacks `results` or `count` (the real CLI would crash).
        """
        data = self.get(path, params={"limit": limit})
        if not isinstance(data, dict):
            raise errors.CliError(f"GET {path} did not answer a paginated list")
        results, count = data.get("results"), data.get("count")
        if not isinstance(results, list) or not isinstance(count, int):
            raise errors.CliError(f"GET {path} answered a list without results and count")
        return results, count

    def lines(self, path: str, *, params: dict[str, Any]) -> Iterator[str]:
        """A text response's lines as they arrive (`logs -f`); none for 204.

        Raises:
            ApiError: An error status.
            ControllerUnreachable: The controller could not be reached.
        """
        try:
            with self._http.stream("GET", path, params=params, timeout=FOREVER) as response:
                self._check_version(response)
                if not response.is_success:
                    response.read()
                    raise errors.ApiError(response.status_code, describe(response))
                if response.status_code == 204:
                    return
                yield from response.iter_lines()
        except httpx.TransportError as exc:
            raise self._transport_error(exc) from exc
