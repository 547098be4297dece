"""The three patch formats clients send: JSON merge patch, strategic merge patch, JSON patch.

A strategic merge patch is applied as a JSON merge patch: lists are replaced whole, never
merged by key, and `$patch` directives are not understood. A client that relies on a
strategic list merge (adding one container by name, say) sees the list replaced here, so it
must send whole lists, which works the same against a real server.
"""

import copy
from typing import Any

from deis_testing.kube import errors

MERGE = "application/merge-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"
TYPES = (MERGE, STRATEGIC, JSON_PATCH)


class PatchError(Exception):
    """A JSON patch cannot apply (a missing path, a failed `test`)."""


def apply(content_type: str, target: dict[str, Any], patch: Any) -> dict[str, Any]:
    """Return `target` with `patch` applied; `target` is left as it was.

    Raises:
        ApiError: 415 for another content type, 400 for a patch of the wrong shape.
        PatchError: a JSON patch operation failed.
    """
    if content_type in (MERGE, STRATEGIC):
        if not isinstance(patch, dict):
            raise errors.bad_request("a merge patch must be a JSON object")
        merged = merge(target, patch)
        assert isinstance(merged, dict)
        return merged
    if content_type == JSON_PATCH:
        if not isinstance(patch, list):
            raise errors.bad_request("a JSON patch must be a JSON array of operations")
        return json_patch(target, patch)
    raise errors.unsupported_media(content_type)


def merge(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge key by key, `null` removes a key, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge(result.get(key), value)
    return result


def json_patch(target: dict[str, Any], operations: list[Any]) -> dict[str, Any]:
    """RFC 6902: add, remove, replace, move, copy and test, applied in order."""
    document: Any = copy.deepcopy(target)
    for operation in operations:
        if not isinstance(operation, dict) or "op" not in operation or "path" not in operation:
            raise errors.bad_request(f"malformed JSON patch operation: {operation!r}")
        op, path = operation["op"], operation["path"]
        if op == "add":
            document = _add(document, path, copy.deepcopy(operation["value"]))
        elif op == "remove":
            _remove(document, path)
        elif op == "replace":
            _remove(document, path)
            document = _add(document, path, copy.deepcopy(operation["value"]))
        elif op == "move":
            value = _get(document, operation["from"])
            _remove(document, operation["from"])
            document = _add(document, path, value)
        elif op == "copy":
            document = _add(document, path, copy.deepcopy(_get(document, operation["from"])))
        elif op == "test":
            if _get(document, path) != operation["value"]:
                raise PatchError(f"testing value {path} failed")
        else:
            raise errors.bad_request(f"unknown JSON patch operation {op!r}")
    if not isinstance(document, dict):
        raise PatchError("a JSON patch must leave an object")
    return document


def _tokens(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError(f"JSON pointer must start with '/': {path!r}")
    return [t.replace("~1", "/").replace("~0", "~") for t in path[1:].split("/")]


def _parent(document: Any, path: str) -> tuple[Any, str]:
    tokens = _tokens(path)
    if not tokens:
        raise PatchError("the operation needs a path below the root")
    node = document
    for token in tokens[:-1]:
        node = _child(node, token, path)
    return node, tokens[-1]


def _child(node: Any, token: str, path: str) -> Any:
    try:
        if isinstance(node, list):
            return node[int(token)]
        if isinstance(node, dict):
            return node[token]
    except (KeyError, IndexError, ValueError):
        pass
    raise PatchError(f"path {path!r} does not exist")


def _get(document: Any, path: str) -> Any:
    node = document
    for token in _tokens(path):
        node = _child(node, token, path)
    return node


def _add(document: Any, path: str, value: Any) -> Any:
    if not _tokens(path):
        return value
    parent, token = _parent(document, path)
    if isinstance(parent, dict):
        parent[token] = value
    elif isinstance(parent, list):
        index = len(parent) if token == "-" else _index(token, len(parent) + 1, path)
        parent.insert(index, value)
    else:
        raise PatchError(f"path {path!r} does not exist")
    return document


def _remove(document: Any, path: str) -> None:
    parent, token = _parent(document, path)
    if isinstance(parent, dict) and token in parent:
        del parent[token]
    elif isinstance(parent, list):
        del parent[_index(token, len(parent), path)]
    else:
        raise PatchError(f"path {path!r} does not exist")


def _index(token: str, bound: int, path: str) -> int:
    if not token.isdigit() or int(token) >= bound:
        raise PatchError(f"path {path!r} does not exist")
    return int(token)
