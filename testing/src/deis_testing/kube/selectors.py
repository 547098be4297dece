"""Label and field selectors, in their query-string form and as `LabelSelector` objects.

Label selectors: `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k` (exists) and `!k`
(does not exist), comma-separated and all required. As in Kubernetes, `!=` and `notin` also
match objects without the label.

Field selectors: `path=value`, `path==value`, `path!=value` on dotted paths into the object
(`metadata.name`, `metadata.namespace`, `status.phase`, `spec.nodeName`). The API server
allows a few paths per kind; the emulator allows any, which no correct client notices.
"""

import re
from collections.abc import Callable, Mapping
from typing import Any

from deis_testing.kube import errors

Matcher = Callable[[Mapping[str, str]], bool]

_REQUIREMENT = re.compile(
    r"""\s*(?:
        (?P<not>!)\s*(?P<absent>[^\s,=!()]+)
      | (?P<key>[^\s,=!()]+)(?:
            \s*(?P<op>==|=|!=)\s*(?P<value>[^\s,=!()]*)
          | \s+(?P<setop>in|notin)\s*\((?P<values>[^()]*)\)
        )?
    )\s*(?:,|$)""",
    re.VERBOSE,
)


def parse_labels(selector: str) -> Matcher:
    """Compile a label selector string into a predicate on labels.

    Raises:
        ApiError: 400, the selector does not parse.
    """
    checks: list[Matcher] = []
    position = 0
    text = selector.strip()
    while position < len(text):
        match = _REQUIREMENT.match(text, position)
        if match is None or match.end() == position:
            raise errors.bad_request(f"unable to parse requirement: {selector!r}")
        position = match.end()
        checks.append(_requirement(match))
    return lambda labels: all(check(labels) for check in checks)


def _requirement(match: re.Match[str]) -> Matcher:
    if match["not"]:
        absent = match["absent"]
        return lambda labels: absent not in labels
    key = match["key"]
    if match["op"] in ("=", "=="):
        value = match["value"]
        return lambda labels: labels.get(key) == value
    if match["op"] == "!=":
        value = match["value"]
        return lambda labels: labels.get(key) != value
    if match["setop"]:
        values = {v.strip() for v in match["values"].split(",") if v.strip()}
        if match["setop"] == "in":
            return lambda labels: labels.get(key) in values
        return lambda labels: labels.get(key) not in values
    return lambda labels: key in labels


def from_object(selector: Mapping[str, Any] | None) -> Matcher:
    """Compile a `LabelSelector` object (`matchLabels`, `matchExpressions`).

    An empty selector matches everything, a missing one nothing (as for ReplicaSets).
    """
    if selector is None:
        return lambda _labels: False
    return parse_labels(to_string(selector))


def to_string(selector: Mapping[str, Any]) -> str:
    """The query-string form of a `LabelSelector` object (as in a Scale's `status.selector`)."""
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expression in selector.get("matchExpressions") or []:
        key, operator = expression["key"], expression["operator"]
        values = ",".join(sorted(expression.get("values") or []))
        parts.append(
            {
                "In": f"{key} in ({values})",
                "NotIn": f"{key} notin ({values})",
                "Exists": key,
                "DoesNotExist": f"!{key}",
            }[operator]
        )
    return ",".join(parts)


def parse_fields(selector: str) -> Callable[[Mapping[str, Any]], bool]:
    """Compile a field selector into a predicate on whole objects.

    Raises:
        ApiError: 400, the selector does not parse.
    """
    checks: list[Callable[[Mapping[str, Any]], bool]] = []
    for term in filter(None, (t.strip() for t in selector.split(","))):
        match = re.fullmatch(r"([A-Za-z0-9_.]+)\s*(==|=|!=)\s*(.*)", term)
        if match is None:
            raise errors.bad_request(f"invalid field selector: {selector!r}")
        path, operator, value = match.groups()
        checks.append(_field_check(path, value, equal=operator != "!="))
    return lambda obj: all(check(obj) for check in checks)


def _field_check(path: str, value: str, *, equal: bool) -> Callable[[Mapping[str, Any]], bool]:
    return lambda obj: (_field(obj, path) == value) is equal


def _field(obj: Mapping[str, Any], path: str) -> str:
    value: Any = obj
    for part in path.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
