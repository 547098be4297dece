"""DRF's limit/offset pagination envelope (docs/api.md §1.5)."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import Request

PAGE_SIZE = 100
"""Default `limit`."""


@dataclass(frozen=True)
class Page:
    """Which slice of a list the request asks for."""

    limit: int
    offset: int


def _positive(value: str | None, *, default: int, allow_zero: bool) -> int:
    try:
        number = int(value) if value is not None else default
    except ValueError:
        return default
    if number < 0 or (number == 0 and not allow_zero):
        return default
    return number


def page(request: Request) -> Page:
    """The `limit` and `offset` of the query; bad values fall back to the defaults."""
    params = request.query_params
    return Page(
        limit=_positive(params.get("limit"), default=PAGE_SIZE, allow_zero=False),
        offset=_positive(params.get("offset"), default=0, allow_zero=True),
    )


def envelope(
    request: Request, *, window: Page, count: int, results: Sequence[Any]
) -> dict[str, Any]:
    """`{"count", "next", "previous", "results"}` with absolute `next`/`previous` URLs."""
    url = request.url
    following = None
    if window.offset + window.limit < count:
        following = str(
            url.include_query_params(limit=window.limit, offset=window.offset + window.limit)
        )
    previous = None
    if window.offset > 0:
        before = window.offset - window.limit
        if before <= 0:
            previous = str(
                url.include_query_params(limit=window.limit).remove_query_params("offset")
            )
        else:
            previous = str(url.include_query_params(limit=window.limit, offset=before))
    return {"count": count, "next": following, "previous": previous, "results": list(results)}


def response_schema(item: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI schema of a paginated list of `item`."""
    return {
        "type": "object",
        "required": ["count", "next", "previous", "results"],
        "properties": {
            "count": {"type": "integer"},
            "next": {"type": ["string", "null"]},
            "previous": {"type": ["string", "null"]},
            "results": {"type": "array", "items": item},
        },
    }
