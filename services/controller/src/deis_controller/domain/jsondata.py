"""JSON from users, read with a bound on how deeply it may nest.

Python's parser recurses once per level of nesting and fails with `RecursionError` near a
thousand levels, and so would any code walking the result. No Deis body nests deeper than a
handful of levels (a healthcheck with HTTP headers is six), so every JSON text a user sends,
a request body or a field holding JSON inside a form, is read through `loads`, which refuses
more than `MAX_DEPTH` levels as invalid JSON.
"""

import json
from typing import Any

MAX_DEPTH = 32
"""Most levels of arrays and objects inside one another that a JSON text may have."""


class TooDeep(ValueError):
    """The JSON nests deeper than `MAX_DEPTH`."""


def loads(text: str | bytes) -> Any:
    """Parse `text` as JSON, refusing more than `MAX_DEPTH` levels of nesting.

    Raises:
        TooDeep: Nested too deeply.
        ValueError: Not valid JSON (`json.JSONDecodeError`), or bytes that are not UTF-8.
    """
    try:
        data = json.loads(text)
    except RecursionError:
        raise TooDeep(_message()) from None
    if depth(data) > MAX_DEPTH:
        raise TooDeep(_message())
    return data


def depth(data: Any) -> int:
    """Levels of arrays and objects in `data` (a scalar is 0), counted without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        value, level = stack.pop()
        if isinstance(value, dict):
            children: Any = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        level += 1
        if level > deepest:
            deepest = level
            if deepest > MAX_DEPTH:
                break
        stack.extend((child, level) for child in children)
    return deepest


def _message() -> str:
    return f"JSON nested more than {MAX_DEPTH} levels deep"
