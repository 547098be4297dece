"""Route registration with Deis's trailing-slash rules (API.md §1.1).

Almost every Deis route takes an optional trailing slash, a few require it and a few forbid
it; nothing redirects. `route` registers both forms where the slash is optional and documents
the form the SDK uses.
"""

from collections.abc import Callable
from typing import Any, Literal

from fastapi import APIRouter

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
    forms: list[tuple[str, bool]]
    if slash == "required":
        forms = [(bare + "/", True)]
    elif slash == "absent":
        forms = [(bare, True)]
    else:
        forms = [(bare + "/", documented == "slash"), (bare, documented == "bare")]

    def register(endpoint: Endpoint) -> Endpoint:
        for form, in_schema in forms:
            router.add_api_route(
                form,
                endpoint,
                methods=methods,
                include_in_schema=in_schema,
                **kwargs,
            )
        return endpoint

    return register
