"""Readiness of a new process: it accepts connections (or answers HTTP) before it gets traffic.

A rollout routes to a new process only once it is ready, and gives up when the process dies
first or stays unready past a deadline. The probes are one attempt each, every failure (refused,
reset, timed out, garbage) meaning "not yet"; `wait_until_ready` polls one until it passes.
The HTTP probe speaks just enough HTTP/1.1 over asyncio streams to read a status line, so the
scheduler needs no HTTP client library.
"""

import asyncio
import contextlib
import re
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Final

from deis_shared import errors

MAX_STATUS_LINE: Final = 1024
"""Bytes of the HTTP status line read at most."""

_STATUS_LINE: Final = re.compile(rb"HTTP/1\.[01] ([1-5][0-9]{2})(?: [^\r\n]*)?\r?\n", re.ASCII)
_PATH: Final = re.compile(r"/[!-~]*", re.ASCII)


class NotReady(errors.TransientError):
    """The process exited before it became ready, or was not ready by the deadline."""


async def tcp_ready(
    host: str,
    port: int,
    *,
    timeout: float = 1.0,  # noqa: ASYNC109 -- one probe's bound; a caller's deadline spans many
) -> bool:
    """Whether something accepts TCP connections on `host:port`, within `timeout` seconds."""
    try:
        async with asyncio.timeout(timeout):
            _, writer = await asyncio.open_connection(host, port)
            await _close(writer)
    except (OSError, TimeoutError):
        return False
    return True


async def http_ready(
    host: str,
    port: int,
    path: str,
    *,
    timeout: float = 1.0,  # noqa: ASYNC109 -- one probe's bound; a caller's deadline spans many
) -> bool:
    """Whether `GET path` on `host:port` answers with a 2xx or 3xx status within `timeout` s.

    Args:
        host: the address to connect to; also the `Host` header.
        port: the port.
        path: the request path, such as `/healthz`: `/` then printable ASCII, no spaces.
        timeout: seconds for the whole exchange.

    Returns:
        True for a 2xx or 3xx status; False for another status, no answer or garbage.

    Raises:
        ValueError: `path` is not a plain request path.
    """
    if _PATH.fullmatch(path) is None:
        raise ValueError(f"invalid health check path {path!r}")
    authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: deis-scheduler\r\n"
        "Accept: */*\r\nConnection: close\r\n\r\n"
    ).encode("ascii")
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(host, port, limit=MAX_STATUS_LINE)
            try:
                writer.write(request)
                await writer.drain()
                status_line = await reader.readline()
            finally:
                await _close(writer)
    except (OSError, TimeoutError, ValueError):
        # ValueError: a status line longer than the limit.
        return False
    match = _STATUS_LINE.fullmatch(status_line)
    return match is not None and 200 <= int(match[1]) < 400


async def wait_until_ready(
    check: Callable[[], Awaitable[bool]],
    *,
    deadline: float,
    alive: Callable[[], bool],
    period: float = 0.05,
) -> None:
    """Poll `check` until it passes.

    Args:
        check: one probe, such as `lambda: tcp_ready(host, port)`.
        deadline: when to give up, on the `time.monotonic()` clock.
        alive: whether the process is still running.
        period: seconds between probes.

    Raises:
        NotReady: `alive()` turned false, or `deadline` passed, before `check` passed.
    """
    budget = max(0.0, deadline - time.monotonic())
    while True:
        if not alive():
            raise NotReady("exited before becoming healthy")
        if await check():
            return
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise NotReady(f"not healthy within {budget:.1f} s")
        await asyncio.sleep(min(period, remaining))


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on `host` now (the OS's pick; someone may take it before use)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    # A peer that reset the connection has closed it all the same.
    with contextlib.suppress(OSError):
        await writer.wait_closed()
