"""Rules of app settings and TLS: reading posted values and merging them (docs/api.md §2.11).

Pure functions over plain values: the use cases in `app.appsettings` read the current row,
call `apply` and `describe`, and store the result. A settings value is a dict with the keys
of `FIELDS`.
"""

import contextlib
from typing import Any

from deis_controller import errors
from deis_controller.domain import jsondata, whitelist as whitelist_rules
from deis_shared import processtypes

FIELDS = ("maintenance", "routable", "whitelist", "autoscale", "label")
"""The changeable fields of an AppSettings row."""

TRUE_VALUES = frozenset(
    ["t", "T", "y", "Y", "yes", "YES", "true", "True", "TRUE", "on", "On", "ON", "1"]
)
"""Strings DRF's boolean fields read as true (forms send strings)."""

FALSE_VALUES = frozenset(
    ["f", "F", "n", "N", "no", "NO", "false", "False", "FALSE", "off", "Off", "OFF", "0"]
)
"""Strings DRF's boolean fields read as false."""

NULL_VALUES = frozenset({"null", "Null", "NULL", ""})
"""Strings a nullable boolean field reads as "not given"."""

NOT_BOOLEAN = "Must be a valid boolean."

AUTOSCALE_FIELDS = ("min", "max", "cpu_percent")
"""What each process type's autoscale entry needs, all integers."""


def parse_boolean(value: Any, *, field: str) -> bool | None:
    """A boolean as DRF reads one (JSON or form); `None` for null (keep the current value).

    Raises:
        FieldErrors: Anything else.
    """
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        if value in TRUE_VALUES:
            return True
        if value in FALSE_VALUES:
            return False
        if value in NULL_VALUES:
            return None
    raise errors.FieldErrors.one(field, NOT_BOOLEAN)


def parse_map(value: Any, *, field: str) -> dict[str, Any]:
    """An object, or a string holding one (forms send nested fields as JSON, docs/api.md §1.4).

    Raises:
        FieldErrors: Invalid JSON, or not an object.
    """
    if isinstance(value, str):
        try:
            value = jsondata.loads(value)
        except ValueError as exc:
            raise errors.FieldErrors.one(field, "Value must be valid JSON.") from exc
    if not isinstance(value, dict):
        kind = type(value).__name__
        raise errors.FieldErrors.one(
            field, f'Expected a dictionary of items but got type "{kind}".'
        )
    return value


def _autoscale_problem(entry: Any) -> str | None:
    if not isinstance(entry, dict):
        return f"{entry!r} is not of type 'object'"
    for name in AUTOSCALE_FIELDS:
        if name not in entry:
            return f"{name!r} is a required property"
    for name in AUTOSCALE_FIELDS:
        number = entry[name]
        if isinstance(number, bool) or not isinstance(number, int):
            return f"{number!r} is not of type 'integer'"
    if entry["min"] < 0:
        return f"{entry['min']} is less than the minimum of 0"
    if entry["max"] < 1:
        return f"{entry['max']} is less than the minimum of 1"
    if not 1 <= entry["cpu_percent"] <= 100:
        return f"cpu_percent {entry['cpu_percent']} is not between 1 and 100"
    if entry["min"] > entry["max"]:
        return f"min {entry['min']} is greater than max {entry['max']}"
    return None


def validate_autoscale(value: Any) -> dict[str, dict[str, int] | None]:
    """`{type: {min, max, cpu_percent} | null}` with integer fields, all three present.

    Raises:
        FieldErrors: On `autoscale`, naming the entry and what is wrong with it.
    """
    entries = parse_map(value, field="autoscale")
    checked: dict[str, dict[str, int] | None] = {}
    for kind, entry in entries.items():
        if entry is None:
            checked[kind] = None
            continue
        if not processtypes.is_valid(kind):
            problem: str | None = f"{kind!r} is not a valid process type"
        else:
            problem = _autoscale_problem(entry)
        if problem is not None:
            raise errors.FieldErrors.one("autoscale", f"could not validate {entry!r}: {problem}")
        checked[kind] = {name: entry[name] for name in AUTOSCALE_FIELDS}
    return checked


def merge(current: dict[str, Any], changes: dict[str, Any], *, field: str) -> dict[str, Any]:
    """`current` with `changes` applied: a value sets its key, `None` removes it.

    Raises:
        Unprocessable: Removing a key that is not there.
    """
    merged = dict(current)
    for key, value in changes.items():
        if value is not None:
            merged[key] = value
        elif key in merged:
            del merged[key]
        else:
            raise errors.Unprocessable(f"{key} does not exist under {field}")
    return merged


def _map_changes(old: dict[str, Any], new: dict[str, Any], *, what: str) -> list[str]:
    parts = []
    added = [key for key in new if key not in old]
    changed = [key for key in new if key in old and old[key] != new[key]]
    deleted = [key for key in old if key not in new]
    for verb, keys in (("added", added), ("changed", changed), ("deleted", deleted)):
        if keys:
            parts.append(f"{verb} {what} {', '.join(keys)}")
    return parts


def whitelist_changes(old: list[str], new: list[str]) -> list[str]:
    """Addresses added to and removed from the whitelist, as parts of a platform log line."""
    parts = []
    added = [address for address in new if address not in old]
    removed = [address for address in old if address not in new]
    if added:
        parts.append(f"added {', '.join(added)} to the whitelist")
    if removed:
        parts.append(f"removed {', '.join(removed)} from the whitelist")
    return parts


def describe(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """What changed between the `old` and `new` values, as parts of a platform log line."""
    parts = []
    for field, on, off in (
        ("maintenance", "enabled maintenance mode", "disabled maintenance mode"),
        ("routable", "enabled routing", "disabled routing"),
    ):
        if new[field] != old[field]:
            parts.append(on if new[field] else off)
    if set(new["whitelist"]) != set(old["whitelist"]):
        parts += whitelist_changes(old["whitelist"], new["whitelist"])
    parts += _map_changes(old["autoscale"], new["autoscale"], what="autoscale for process type")
    parts += _map_changes(old["label"], new["label"], what="label")
    return parts


def unique(addresses: list[str]) -> list[str]:
    """The addresses without repeats, in their first order."""
    return list(dict.fromkeys(addresses))


def parse_addresses(value: Any) -> list[str]:
    """Valid whitelist addresses without repeats; a form may send the list as JSON text.

    Raises:
        FieldErrors: Not a list.
        BareListError: An invalid address.
    """
    if isinstance(value, str) and value.lstrip().startswith("["):
        with contextlib.suppress(ValueError):
            value = jsondata.loads(value)
    return unique(whitelist_rules.validate_addresses(value))


def apply(current: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    """The values of the next settings row: `current` with the posted fields applied.

    Null or absent fields keep their current value.

    Raises:
        FieldErrors: A field of the wrong type or shape.
        BareListError: An invalid whitelist address.
        Unprocessable: Unsetting an autoscale or label key that is not set.
    """
    new = {field: current[field] for field in FIELDS}
    for field in ("maintenance", "routable"):
        value = parse_boolean(data.get(field), field=field)
        if value is not None:
            new[field] = value
    if data.get("whitelist") is not None:
        addresses = parse_addresses(data["whitelist"])
        if set(addresses) != set(current["whitelist"]):
            new["whitelist"] = addresses
    if data.get("autoscale") is not None:
        changes = validate_autoscale(data["autoscale"])
        new["autoscale"] = merge(current["autoscale"], changes, field="autoscale")
    if data.get("label") is not None:
        changes = parse_map(data["label"], field="label")
        new["label"] = merge(current["label"], changes, field="label")
    return new


TLS_FIELDS = ("https_enforced", "certs_auto_enabled")
"""The fields a TLS change may post, either or both."""


def parse_tls(data: dict[str, Any]) -> dict[str, bool]:
    """The posted TLS fields (`https_enforced`, `certs_auto_enabled`), each a boolean.

    Without either, `https_enforced` is the one missing, as the real client sends only it.

    Raises:
        FieldErrors: Neither field posted, or one null or not a boolean.
    """
    if not any(name in data for name in TLS_FIELDS):
        return {"https_enforced": parse_https_enforced(data)}
    values: dict[str, bool] = {}
    problems: dict[str, list[str]] = {}
    for name in TLS_FIELDS:
        if name not in data:
            continue
        if data[name] is None:
            problems[name] = ["This field may not be null."]
            continue
        try:
            value = parse_boolean(data[name], field=name)
        except errors.FieldErrors as exc:
            problems.update(exc.fields)
            continue
        if value is None:
            problems[name] = [NOT_BOOLEAN]
        else:
            values[name] = value
    if problems:
        raise errors.FieldErrors(problems)
    return values


def parse_https_enforced(data: dict[str, Any]) -> bool:
    """The posted `https_enforced`, which must be a boolean.

    Raises:
        FieldErrors: Missing, null or not a boolean.
    """
    if "https_enforced" not in data:
        raise errors.FieldErrors.one("https_enforced", "This field is required.")
    if data["https_enforced"] is None:
        raise errors.FieldErrors.one("https_enforced", "This field may not be null.")
    value = parse_boolean(data["https_enforced"], field="https_enforced")
    if value is None:
        raise errors.FieldErrors.one("https_enforced", NOT_BOOLEAN)
    return value
