"""Small pieces of nginx syntax the renderers share: listen lines, quoted paths, durations."""

import re
from pathlib import Path

from deis_router_agent.errors import UnsafeValue

_PATH_CHARS = re.compile(r"[A-Za-z0-9._/+@=,*-]+(?: [A-Za-z0-9._/+@=,*-]+)*", re.ASCII)
_ADDRESS = re.compile(r"|[0-9.]{7,15}|\[[0-9a-fA-F:.]{2,45}\]|[a-z0-9.-]{1,253}", re.ASCII)


def listen(address: str, port: int, *extra: str) -> str:
    """`listen <address>:<port> <extra>;` (every address when `address` is empty)."""
    if _ADDRESS.fullmatch(address) is None or type(port) is not int:
        raise UnsafeValue(f"refusing listen address {address!r}:{port!r}")
    where = f"{address}:{port}" if address else str(port)
    return " ".join(("listen", where, *extra)) + ";"


def path(value: Path) -> str:
    """An absolute path as a quoted nginx string; refuses characters nginx would interpret."""
    text = str(value)
    if not value.is_absolute() or _PATH_CHARS.fullmatch(text) is None:
        raise UnsafeValue(f"refusing path {text!r} in nginx configuration")
    return f'"{text}"'


def unix(value: Path) -> str:
    """A Unix socket address to `listen` on, quoted (the path as `path` refuses it)."""
    return f'"unix:{path(value)[1:-1]}"'


def duration(seconds: float) -> str:
    """A duration in whole milliseconds, at least one."""
    return f"{max(1, round(seconds * 1000))}ms"
