"""The CLI's own checks of arguments before anything is sent (docs/api.md §4).

Each parser raises `InvalidInput` with a message naming the bad argument and an example.
"""

import base64
import re
from collections.abc import Iterable
from pathlib import Path

from deis_cli import errors

PS_TARGET = re.compile(r"^([a-z0-9]+(?:-[a-z0-9]+)*)=([0-9]+)$")
"""`ps:scale` targets: `web=3`, `worker-2=0`."""

CONFIG_PAIR = re.compile(r"^([A-Za-z_]+[A-Za-z0-9_]*)=(.*)$", re.DOTALL)
"""`config:set` pairs; the value may contain `=` and newlines."""

PROC_TYPE = r"[a-z0-9]+(?:-[a-z0-9]+)*"

MEMORY_VALUE = re.compile(
    r"^(?:[0-9]+(?:MB|KB|GB|[BKMG])|0)(?:/[0-9]+(?:MB|KB|GB|[BKMG]))?$", re.IGNORECASE
)
"""Memory limits: `512M`, `1G/2G`, `0/100MB`."""

CPU_VALUE = re.compile(r"^[-+]?[0-9]*\.?[0-9]+m?(?:/[-+]?[0-9]*\.?[0-9]+m?)?$")
"""CPU limits: `500m`, `0.5`, `250m/1`."""

DEFAULT_LIMIT_TYPE = "cmd"
"""The process type of a limit given without one (`limits:set 512M`)."""

TAG_PAIR = re.compile(r"^([^=\s]+)=(.*)$")


def scale_targets(targets: Iterable[str]) -> dict[str, int]:
    """`web=3 worker=1` → `{"web": 3, "worker": 1}`.

    Raises:
        InvalidInput: A target does not match `type=count`.
    """
    matched = _pairs(targets, PS_TARGET, shape="type=num", what="target", example="web=2")
    return {kind: int(count) for kind, count in matched.items()}


def config_pairs(pairs: Iterable[str]) -> dict[str, str]:
    """`KEY=value` arguments as a map; values keep any `=` after the first.

    Raises:
        InvalidInput: An argument is not `KEY=value` with a valid key.
    """
    return _pairs(pairs, CONFIG_PAIR, shape="key=var", what="pair", example="MODE=test")


def ssh_key_value(value: str) -> str:
    """Deis sends `SSH_KEY` base64-encoded; a value naming a file sends that file's content."""
    path = Path(value).expanduser()
    raw = path.read_bytes() if value and path.is_file() else value.encode()
    try:
        base64.b64decode(raw, validate=True)
    except ValueError:
        return base64.b64encode(raw).decode()
    return raw.decode()


def limits(targets: Iterable[str], *, cpu: bool) -> dict[str, str]:
    """`web=512M` (memory) or `web=250m` (CPU) arguments as a map.

    Raises:
        InvalidInput: A type or value is malformed.
    """
    pattern = CPU_VALUE if cpu else MEMORY_VALUE
    example = "web=500m" if cpu else "web=512M"
    found: dict[str, str] = {}
    for target in targets:
        kind, sep, value = target.partition("=")
        if not sep:
            kind, value = DEFAULT_LIMIT_TYPE, target
        if not re.fullmatch(PROC_TYPE, kind) or not pattern.match(value):
            raise errors.InvalidInput(
                f"'{target}' does not match the pattern 'type=value', ex: {example}"
            )
        found[kind] = value
    if not found:
        raise errors.InvalidInput(f"give at least one 'type=value' limit, ex: {example}")
    return found


def proc_types(kinds: Iterable[str]) -> list[str]:
    """Process type names, checked.

    Raises:
        InvalidInput: A name is not a process type.
    """
    listed = list(kinds)
    for kind in listed:
        if not re.fullmatch(PROC_TYPE, kind):
            raise errors.InvalidInput(f"'{kind}' is not a process type, ex: web")
    return listed


def tags(pairs: Iterable[str]) -> dict[str, str]:
    """`key=value` tags.

    Raises:
        InvalidInput: An argument lacks `=`.
    """
    return _pairs(pairs, TAG_PAIR, shape="key=value", what="pair", example="environ=prod")


def version(text: str) -> int:
    """`v3` or `3` → 3.

    Raises:
        InvalidInput: Not a release version.
    """
    matched = re.fullmatch(r"v?([0-9]+)", text.strip())
    if matched is None:
        raise errors.InvalidInput(f"'{text}' is not a release version, ex: v3")
    return int(matched.group(1))


def _pairs(
    arguments: Iterable[str], pattern: re.Pattern[str], *, shape: str, what: str, example: str
) -> dict[str, str]:
    """Arguments matching `pattern` (two groups) as a map, at least one.

    Raises:
        InvalidInput: One does not match, or there is none; the message shows `example`.
    """
    found: dict[str, str] = {}
    for argument in arguments:
        matched = pattern.match(argument)
        if matched is None:
            raise errors.InvalidInput(
                f"'{argument}' does not match the pattern '{shape}', ex: {example}"
            )
        found[matched.group(1)] = matched.group(2)
    if not found:
        raise errors.InvalidInput(f"give at least one '{shape}' {what}, ex: {example}")
    return found
