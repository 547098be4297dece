"""Resource limits of a process type: the one definition of what a `memory` or `cpu` value may be.

Deis takes each as `<limit>` or `<request>/<limit>` (docs/api.md §2.3). The controller validates a
value with `parse_memory` / `parse_cpu` before it stores it, the desired state's models check it
again on the wire, and every scheduler backend reads it with the same two functions, so a value
one accepts the others can run.

The rules are Deis's patterns, made stricter where Deis let through a value that no backend can
apply:

- memory: `0`, or a whole number with a unit `B`, `K`, `M`, `G`, `KB`, `MB` or `GB` (any case,
  binary: `M` is MiB, as Deis passed them to Kubernetes); at most `MAX_MEMORY_BYTES`.
- cpu: a number of cores (`2`, `0.5`, `.25`) or of millicores (`500m`), never negative (Deis's
  pattern allowed a sign), in whole millicores (Kubernetes refuses finer), at most
  `MAX_MILLICORES`.
- a request may not exceed its limit (Kubernetes refuses such a pod); a limit of 0 means none.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

MEMORY_PATTERN = r"(?i)^(([0-9]+(MB|KB|GB|[BKMG])|0)(/([0-9]+(MB|KB|GB|[BKMG])))?)$"
"""Deis's memory limit: `<limit>` or `<request>/<limit>`, e.g. `512M`, `0/100MB`."""

CPU_PATTERN = r"^(\+?[0-9]*\.?[0-9]+m?)(/(\+?[0-9]*\.?[0-9]+m?))?$"
"""A CPU limit: `<limit>` or `<request>/<limit>`, e.g. `500m`, `0.5`, `0/2`; no minus sign."""

MAX_SPEC_LENGTH = 64
"""Longest limit text taken; longer ones are refused before any number is read."""

MAX_MEMORY_BYTES = 1 << 50
"""1 PiB: more than any host has, and far inside what `prlimit` and Kubernetes take."""

MAX_MILLICORES = 1024 * 1000
"""1,024 CPUs."""

MEMORY_MESSAGE = (
    "Memory limit format: <number><unit> or <number><unit>/<number><unit>, "
    "where unit = B, K, M or G"
)
CPU_MESSAGE = "CPU limit format: <value> or <value>/<value>, where value must be a numeric"

_MEMORY_SPEC = re.compile(MEMORY_PATTERN.replace("$", r"\Z"), re.ASCII)
_CPU_SPEC = re.compile(CPU_PATTERN.replace("$", r"\Z"), re.ASCII)
_MEMORY = re.compile(r"(?P<number>[0-9]+)(?P<unit>MB|KB|GB|[BKMG])?", re.IGNORECASE | re.ASCII)
_MEMORY_UNITS = {"B": 1, "K": 1 << 10, "KB": 1 << 10, "M": 1 << 20, "MB": 1 << 20}
_MEMORY_UNITS |= {"G": 1 << 30, "GB": 1 << 30}
_CPU = re.compile(r"\+?(?P<number>[0-9]*\.?[0-9]+)(?P<milli>m?)", re.ASCII)


class InvalidLimit(ValueError):
    """A memory or CPU value no backend can apply; the message says why, for the user."""


@dataclass(frozen=True)
class Limit:
    """A parsed limit: bytes for memory, millicores for CPU; `None` where there is none."""

    request: int | None
    limit: int | None


def parse_memory(spec: str) -> Limit:
    """A memory value as bytes.

    Args:
        spec: `<limit>` or `<request>/<limit>`, such as `512M` or `0/1G`.

    Returns:
        The request and limit in bytes, `None` for 0 (none).

    Raises:
        InvalidLimit: Not Deis's memory format, too large, or a request above the limit.
    """
    return _parse(spec, pattern=_MEMORY_SPEC, amount=_memory_amount, message=MEMORY_MESSAGE)


def parse_cpu(spec: str) -> Limit:
    """A CPU value as millicores.

    Args:
        spec: `<limit>` or `<request>/<limit>`, such as `500m`, `2` or `0.5/1`.

    Returns:
        The request and limit in millicores, `None` for 0 (none).

    Raises:
        InvalidLimit: Not a non-negative CPU amount, finer than 1m, too large, or a request
            above the limit.
    """
    return _parse(spec, pattern=_CPU_SPEC, amount=_cpu_amount, message=CPU_MESSAGE)


def check_memory(spec: str) -> str:
    """`spec` itself if `parse_memory` takes it (a pydantic validator).

    Raises:
        InvalidLimit: As `parse_memory`.
    """
    parse_memory(spec)
    return spec


def check_cpu(spec: str) -> str:
    """`spec` itself if `parse_cpu` takes it (a pydantic validator).

    Raises:
        InvalidLimit: As `parse_cpu`.
    """
    parse_cpu(spec)
    return spec


def _parse(
    spec: str,
    *,
    pattern: re.Pattern[str],
    amount: Callable[[str], int | None],
    message: str,
) -> Limit:
    if len(spec) > MAX_SPEC_LENGTH or pattern.fullmatch(spec) is None:
        raise InvalidLimit(message)
    parts = spec.split("/")
    values = [amount(part) for part in parts]
    request, limit = (None, values[0]) if len(values) == 1 else (values[0], values[1])
    if request is not None and limit is not None and request > limit:
        what = "memory" if pattern is _MEMORY_SPEC else "CPU"
        raise InvalidLimit(f"The {what} request ({parts[0]}) may not exceed its limit ({parts[1]})")
    return Limit(request=request, limit=limit)


def _memory_amount(text: str) -> int | None:
    match = _MEMORY.fullmatch(text)
    assert match is not None  # the whole spec matched MEMORY_PATTERN
    value = int(match["number"]) * _MEMORY_UNITS[(match["unit"] or "B").upper()]
    if value > MAX_MEMORY_BYTES:
        raise InvalidLimit("A memory limit may be at most 1 PiB (1024 TiB)")
    return value or None


def _cpu_amount(text: str) -> int | None:
    match = _CPU.fullmatch(text)
    assert match is not None  # the whole spec matched CPU_PATTERN
    number = Decimal(match["number"])
    millicores = number if match["milli"] else number * 1000
    if millicores > MAX_MILLICORES:
        raise InvalidLimit(f"A CPU limit may be at most {MAX_MILLICORES // 1000} CPUs")
    if millicores != millicores.to_integral_value():
        raise InvalidLimit("A CPU limit is counted in whole millicores (1m = 0.001 CPU)")
    return int(millicores) or None
