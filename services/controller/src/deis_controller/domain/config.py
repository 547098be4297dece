"""A release's config and the rules of changing it (docs/api.md §2.3).

`merge` applies a POST /config body to the config of the latest good release, in upstream's
order: decode and validate each field (400 with `{field: [message]}`), merge key by key (a null
unsets; unsetting a missing key is 422), merge healthchecks per process type and probe, migrate
the legacy `HEALTHCHECK_*` values into probes, lowercase registry keys and demand `PORT` with a
registry, then apply the default tags. Values of every field but `healthcheck` are stored as
strings, as Deis shows them.

Deliberate differences from upstream, each stricter or a crash fixed: patterns match the whole
text in ASCII (upstream's `$` let a trailing newline through); a field that is not an object, or
a string that is not JSON, is a 400 rather than a 500; registry keys are lowercased before the
merge, so `{"PASSWORD": null}` unsets a stored `password`; a legacy top-level
`{"livenessProbe": ...}` body is re-keyed under `web/cmd` before validation (upstream's validator
rejected it); tag prefixes are checked label by label as DNS subdomains; the migrated legacy
probes carry an `httpGet.port` (`PORT`, else 5000) because the SDK needs one.
"""

import copy
import dataclasses
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from deis_controller import errors
from deis_controller.domain import jsondata
from deis_controller.domain.procfiles import PROCESS_TYPE_MESSAGE
from deis_shared import limits, processtypes

FIELDS = ("values", "memory", "cpu", "tags", "registry", "healthcheck")
"""The fields of a config a request may change, in the order upstream validates them."""

_KEYED_FIELDS = ("cpu", "memory", "tags", "registry", "values")
"""The flat fields, in the order upstream merges them (so the first 422 matches)."""

PROBES = ("livenessProbe", "readinessProbe")
LEGACY_PROC_TYPE = "web/cmd"

CONFIG_KEY = re.compile(r"[a-z_]+[a-z0-9_]*", re.IGNORECASE | re.ASCII)
TAG_PART = re.compile(r"(?:[a-zA-Z\d][-.\w]{0,61})?[a-zA-Z\d]", re.ASCII)

CONFIG_KEY_MESSAGE = "Config keys must start with a letter or underscore and only contain [A-z0-9_]"
MEMORY_MESSAGE = limits.MEMORY_MESSAGE
CPU_MESSAGE = limits.CPU_MESSAGE
PROBE_NAME_MESSAGE = "Healthcheck keys must be either livenessProbe or readinessProbe"
REGISTRY_NEEDS_PORT = "PORT needs to be set in the config when using a private registry"

MAX_KEY_LENGTH = 256
"""Longest config key (an environment variable name)."""

KEY_LENGTH_MESSAGE = f"Config keys may be at most {MAX_KEY_LENGTH} characters long"

_LEGACY_DEFAULTS = (
    ("initialDelaySeconds", "HEALTHCHECK_INITIAL_DELAY", 50),
    ("timeoutSeconds", "HEALTHCHECK_TIMEOUT", 50),
    ("periodSeconds", "HEALTHCHECK_PERIOD_SECONDS", 10),
    ("successThreshold", "HEALTHCHECK_SUCCESS_THRESHOLD", 1),
    ("failureThreshold", "HEALTHCHECK_FAILURE_THRESHOLD", 3),
)
"""Probe field, the legacy `values` key that sets it, and its default."""

_PROBE_INTEGERS = (
    "initialDelaySeconds",
    "timeoutSeconds",
    "periodSeconds",
    "successThreshold",
    "failureThreshold",
)


@dataclass(frozen=True)
class ConfigData:
    """The stored config of a release: five string maps and the healthchecks per proc type."""

    values: dict[str, str] = field(default_factory=dict)
    memory: dict[str, str] = field(default_factory=dict)
    cpu: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    registry: dict[str, str] = field(default_factory=dict)
    healthcheck: dict[str, dict[str, Any]] = field(default_factory=dict)


class _Invalid(Exception):
    """One field's validation message, collected into `FieldErrors`."""


def _decode(raw: Any) -> dict[str, Any]:
    """A field's value: an object, or a string containing one (form-encoded bodies)."""
    if isinstance(raw, str):
        try:
            raw = jsondata.loads(raw)
        except ValueError:
            raise _Invalid("Value must be valid JSON.") from None
    if raw is None:
        raise _Invalid("This field may not be null.")
    if not isinstance(raw, dict):
        raise _Invalid(f'Expected a dictionary of items but got type "{type(raw).__name__}".')
    return raw


def _is_number(value: Any) -> bool:
    text = str(value)
    return text.isascii() and text.isdecimal()


def _check_key(key: str) -> None:
    if not CONFIG_KEY.fullmatch(key):
        raise _Invalid(CONFIG_KEY_MESSAGE)
    if len(key) > MAX_KEY_LENGTH:
        raise _Invalid(KEY_LENGTH_MESSAGE)


def _check_values(data: dict[str, Any]) -> None:
    for key, value in data.items():
        if value is None:
            continue
        _check_key(key)
        if key == "PORT":
            if not _is_number(value):
                raise _Invalid("PORT can only be a numeric value")
            if not 1 <= int(str(value)) <= 65535:
                raise _Invalid("PORT needs to be between 1 and 65535")
        if key == "HEALTHCHECK_URL":
            # Kubernetes probes take a path only.
            uri = urlparse(str(value))
            if not uri.path:
                raise _Invalid(
                    f"{key} is missing a URI path (such as /healthz). "
                    "Without it no health check can be done"
                )
            if uri.query or uri.fragment or uri.netloc:
                raise _Invalid(
                    f"{key} can only be a URI path (such as /healthz) that does not contain "
                    "other things such as query params"
                )
        elif key.startswith("HEALTHCHECK_") and not _is_number(value):
            raise _Invalid(f"{key} can only be a numeric value")


def _limits_check(parse: Callable[[str], limits.Limit]) -> Callable[[dict[str, Any]], None]:
    def check(data: dict[str, Any]) -> None:
        for key, value in data.items():
            if value is None:
                continue
            if not processtypes.PATTERN.fullmatch(key):
                raise _Invalid(PROCESS_TYPE_MESSAGE)
            try:
                parse(str(value))
            except limits.InvalidLimit as invalid:
                raise _Invalid(str(invalid)) from None

    return check


def _check_tags(data: dict[str, Any]) -> None:
    for key, value in data.items():
        if value is None:
            continue
        # A second "/" lands in the name, which then fails (upstream crashed on it).
        prefix, slash, name = key.partition("/")
        if not slash:
            prefix, name = "", key
        if prefix:
            if len(prefix) > 253:
                raise _Invalid("Tag key prefixes must 253 characters or less.")
            if not all(TAG_PART.fullmatch(label) for label in prefix.split(".")):
                raise _Invalid("Tag key prefixes must be DNS subdomains.")
        if not TAG_PART.fullmatch(name):
            raise _Invalid('Tag keys must be alphanumeric or "-_.", and 1-63 characters.')
        if value and not TAG_PART.fullmatch(str(value)):
            raise _Invalid('Tag values must be alphanumeric or "-_.", and 1-63 characters.')


def _check_registry(data: dict[str, Any]) -> None:
    for key, value in data.items():
        if value is not None:
            _check_key(key)


def _not_of_type(instance: Any, expected: str) -> str:
    """The type error in the wording of jsonschema, which upstream passes through."""
    return f"{instance!r} is not of type '{expected}'"


def _is_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _port_problem(handler: Any) -> str | None:
    if not isinstance(handler, dict):
        return _not_of_type(handler, "object")
    if "port" not in handler:
        return "'port' is a required property"
    if not _is_integer(handler["port"]):
        return _not_of_type(handler["port"], "integer")
    return None


def _http_get_problem(handler: dict[str, Any]) -> str | None:
    for key in ("path", "host", "scheme"):
        if key in handler and not isinstance(handler[key], str):
            return _not_of_type(handler[key], "string")
    headers = handler.get("httpHeaders", [])
    if not isinstance(headers, list):
        return _not_of_type(headers, "array")
    for header in headers:
        if not isinstance(header, dict):
            return _not_of_type(header, "object")
        for key in ("name", "value"):
            if key in header and not isinstance(header[key], str):
                return _not_of_type(header[key], "string")
    return None


def _exec_problem(handler: Any) -> str | None:
    if not isinstance(handler, dict):
        return _not_of_type(handler, "object")
    if "command" not in handler:
        return "'command' is a required property"
    command = handler["command"]
    if not isinstance(command, list):
        return _not_of_type(command, "array")
    if not command:
        return "[] is too short"
    for part in command:
        if not isinstance(part, str):
            return _not_of_type(part, "string")
    return None


def probe_problem(probe: Any) -> str | None:
    """What breaks upstream's probe JSON schema (docs/api.md §2.3), or `None` if nothing does."""
    if not isinstance(probe, dict):
        return _not_of_type(probe, "object")
    for key in _PROBE_INTEGERS:
        if key in probe and not _is_integer(probe[key]):
            return _not_of_type(probe[key], "integer")
    if "exec" in probe and (problem := _exec_problem(probe["exec"])):
        return problem
    if "httpGet" in probe:
        problem = _port_problem(probe["httpGet"]) or _http_get_problem(probe["httpGet"])
        if problem:
            return problem
    if "tcpSocket" in probe and (problem := _port_problem(probe["tcpSocket"])):
        return problem
    return None


def _check_healthcheck(data: dict[str, Any]) -> None:
    for proc_type, probes in data.items():
        if probes is None:
            continue
        if not isinstance(probes, dict):
            raise _Invalid(f"Healthcheck of proc type {proc_type} must be an object of probes")
        for name, probe in probes.items():
            if probe is None:
                continue
            if name not in PROBES:
                raise _Invalid(PROBE_NAME_MESSAGE)
            if problem := probe_problem(probe):
                raise _Invalid(f"could not validate {probe}: {problem}")
        # Kubernetes takes only 1 here; readiness probes may use other values.
        liveness = probes.get("livenessProbe")
        threshold = liveness.get("successThreshold") if isinstance(liveness, dict) else None
        if threshold is not None and threshold != 1:
            raise _Invalid("livenessProbe successThreshold can only be 1")


_CHECKS: dict[str, Callable[[dict[str, Any]], None]] = {
    "values": _check_values,
    "memory": _limits_check(limits.parse_memory),
    "cpu": _limits_check(limits.parse_cpu),
    "tags": _check_tags,
    "registry": _check_registry,
    "healthcheck": _check_healthcheck,
}


def _rekey_legacy(healthcheck: dict[str, Any]) -> dict[str, Any]:
    """A top-level `{"livenessProbe": ...}` healthcheck (pre per-type form) under `web/cmd`."""
    if any(name in healthcheck for name in PROBES):
        return {LEGACY_PROC_TYPE: healthcheck}
    return healthcheck


def _decode_and_validate(changes: dict[str, Any]) -> dict[str, dict[str, Any]]:
    decoded: dict[str, dict[str, Any]] = {}
    problems: dict[str, list[str]] = {}
    for name in FIELDS:
        if name not in changes:
            continue
        try:
            data = _decode(changes[name])
            if name == "healthcheck":
                data = _rekey_legacy(data)
            elif name == "registry":
                data = {key.lower(): value for key, value in data.items()}
            _CHECKS[name](data)
        except _Invalid as invalid:
            problems[name] = [str(invalid)]
        else:
            decoded[name] = data
    if problems:
        raise errors.FieldErrors(problems)
    return decoded


def _merge_keys(*, name: str, current: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    merged = dict(current)
    for key, value in changes.items():
        if value is not None:
            merged[key] = value
        elif key in merged:
            del merged[key]
        else:
            raise errors.Unprocessable(f"{key} does not exist under {name}")
    return merged


def _merge_healthcheck(
    *, current: dict[str, Any], changes: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    merged: dict[str, dict[str, Any]] = copy.deepcopy(_rekey_legacy(current))
    for proc_type, probes in changes.items():
        if probes is None:
            if proc_type not in merged:
                raise errors.Unprocessable(f"{proc_type} does not exist under healthcheck")
            del merged[proc_type]
            continue
        for name, probe in probes.items():
            if probe is not None:
                merged.setdefault(proc_type, {})[name] = copy.deepcopy(probe)
            elif name in merged.get(proc_type, {}):
                del merged[proc_type][name]
            else:
                raise errors.Unprocessable(f"{proc_type} does not exist under healthcheck")
    return merged


def _migrate_legacy_healthcheck(
    *, values: dict[str, str], healthcheck: dict[str, dict[str, Any]]
) -> tuple[dict[str, str], dict[str, dict[str, Any]]]:
    """Turn `HEALTHCHECK_URL` & co. in `values` into `web/cmd` probes and drop them."""
    if "HEALTHCHECK_URL" not in values:
        return values, healthcheck
    port = int(values["PORT"]) if "PORT" in values else 5000

    def probe() -> dict[str, Any]:
        settings: dict[str, Any] = {
            name: int(values.get(key, default)) for name, key, default in _LEGACY_DEFAULTS
        }
        return {**settings, "httpGet": {"path": values["HEALTHCHECK_URL"], "port": port}}

    migrated = {**healthcheck, LEGACY_PROC_TYPE: {probe_name: probe() for probe_name in PROBES}}
    kept = {key: value for key, value in values.items() if not key.startswith("HEALTHCHECK_")}
    return kept, migrated


def _strings(data: dict[str, Any]) -> dict[str, str]:
    return {key: str(value) for key, value in data.items()}


def merge(
    *,
    base: ConfigData,
    changes: dict[str, Any],
    default_tags: dict[str, str] | None = None,
    max_bytes: int | None = None,
) -> ConfigData:
    """The config `changes` (a POST /config body) makes of `base`; fields not sent carry over.

    `default_tags` (`DEIS_DEFAULT_CONFIG_TAGS`) become the tags when the result has none.
    Keys of `changes` other than the six config fields are ignored. With `max_bytes`, the
    result may take at most that many bytes as JSON (`size`).

    Raises:
        FieldErrors: A field is not an object, or a key or value breaks its field's rules.
        Unprocessable: "<key> does not exist under <field>" when unsetting a missing key.
        BadRequest: A registry is set while `values` has no `PORT`, or the result is larger
            than `max_bytes`.
    """
    decoded = _decode_and_validate(changes)
    flat: dict[str, dict[str, Any]] = {}
    for name in _KEYED_FIELDS:
        current: dict[str, Any] = getattr(base, name)
        if name in decoded:
            flat[name] = _merge_keys(name=name, current=current, changes=decoded[name])
        else:
            flat[name] = dict(current)
    healthcheck = _merge_healthcheck(
        current=base.healthcheck, changes=decoded.get("healthcheck", {})
    )
    values, healthcheck = _migrate_legacy_healthcheck(
        values=_strings(flat["values"]), healthcheck=healthcheck
    )
    registry = _strings(flat["registry"])
    if registry and "PORT" not in values:
        raise errors.BadRequest(REGISTRY_NEEDS_PORT)
    tags = _strings(flat["tags"])
    if not tags and default_tags:
        tags = _strings(default_tags)
    merged = ConfigData(
        values=values,
        memory=_strings(flat["memory"]),
        cpu=_strings(flat["cpu"]),
        tags=tags,
        registry=registry,
        healthcheck=healthcheck,
    )
    if max_bytes is not None and (total := size(merged)) > max_bytes:
        raise errors.BadRequest(
            f"The config would take {total:,} bytes; an app's config (values, limits, tags, "
            f"registry and healthchecks) may take at most {max_bytes:,}."
        )
    return merged


def size(config: ConfigData) -> int:
    """Bytes of `config` as compact JSON, which is what it costs wherever it is sent."""
    return len(json.dumps(dataclasses.asdict(config), separators=(",", ":")).encode())
