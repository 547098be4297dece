"""Route registration with Deis's trailing-slash rules (docs/api.md §1.1).

Almost every Deis route takes an optional trailing slash, a few require it and a few forbid
it; nothing redirects. An optional slash is one route whose path ends in a `slash` convertor
(regex `/?`), not two routes: routing tries routes one by one, so their number is per-request
cost. The OpenAPI document shows such a path with the slash (the form the SDK uses) or
without it (`documented="bare"`); see `document_path`.
"""

import re
from collections.abc import Callable
from typing import Any, Literal

from fastapi import APIRouter
from starlette.convertors import Convertor, register_url_convertor
from starlette.responses import HTMLResponse
from starlette.types import ASGIApp, Receive, Scope, Send


class OptionalSlash(Convertor[str]):
    """Matches an optional trailing slash."""

    regex = "/?"

    def convert(self, value: str) -> str:
        """The slash, or an empty string."""
        return value

    def to_string(self, value: str) -> str:
        """As given."""
        return value


register_url_convertor("slash", OptionalSlash())

SLASH = "{_slash:slash}"
BARE = "{_bare:slash}"


def document_path(path: str) -> str:
    """The path as the OpenAPI document shows it: the optional slash spelled out or dropped."""
    return path.replace("{_slash}", "/").replace("{_bare}", "")


Slash = Literal["optional", "required", "absent"]

Endpoint = Callable[..., Any]


def route(
    router: APIRouter,
    path: str,
    *,
    methods: list[str],
    slash: Slash = "optional",
    documented: Literal["slash", "bare"] = "slash",
    **kwargs: Any,
) -> Callable[[Endpoint], Endpoint]:
    """Register the decorated endpoint on `path` with the given trailing-slash rule.

    Args:
        router: Where to register.
        path: The path without a trailing slash.
        methods: HTTP methods served.
        slash: `optional` registers `path` and `path/`; `required` only `path/`; `absent`
            only `path`.
        documented: Which form of an optional-slash route appears in the OpenAPI document.
        **kwargs: Passed to `APIRouter.add_api_route` (status code, response model, ...).

    Returns:
        A decorator returning the endpoint unchanged.
    """
    bare = path.rstrip("/")
    if slash == "required":
        form = bare + "/"
    elif slash == "absent":
        form = bare
    else:
        form = bare + (SLASH if documented == "slash" else BARE)

    def register(endpoint: Endpoint) -> Endpoint:
        router.add_api_route(form, endpoint, methods=methods, **kwargs)
        return endpoint

    return register


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class WholePaths:
    r"""Answers "no route" (Django's 404 page) for a path holding a control character.

    Starlette ends its path patterns with `$`, which in Python also matches before a final
    newline, so `/v2/keys/%0A` would be served as `/v2/keys/`. Django, whose routes Deis has,
    matches to the very end (`\Z`), and no route of the API takes a control character.
    """

    def __init__(self, app: ASGIApp, *, not_found_page: str) -> None:
        self.app = app
        self.not_found = HTMLResponse(not_found_page, status_code=404)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse the request, or pass it on."""
        if scope["type"] == "http" and _CONTROL.search(scope["path"]):
            await self.not_found(scope, receive, send)
            return
        await self.app(scope, receive, send)
