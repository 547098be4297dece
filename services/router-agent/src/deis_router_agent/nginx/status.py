"""Ask nginx which revision its workers serve, through the 127.0.0.1-only status server.

A SIGHUP returning only means the master got the signal; the new configuration is live once
workers started from it answer, and old workers no longer accept: the agent polls until the
new revision answers several times in a row on fresh connections.
"""

import asyncio
import socket
import time
from collections.abc import Callable

POLL_INTERVAL = 0.002
CONFIRMATIONS = 3
"""Answers in a row from the new revision that count as live: the master tells old workers
to stop accepting only after it started the new ones, so for a moment both accept."""


async def live_revision(port: int) -> int | None:
    """The revision a worker answers with, or None when nothing (valid) answers."""
    try:
        async with asyncio.timeout(1.0):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            try:
                writer.write(b"GET /revision HTTP/1.0\r\nHost: status\r\n\r\n")
                await writer.drain()
                response = await reader.read()
            finally:
                writer.close()
                await writer.wait_closed()
    except (OSError, TimeoutError):
        raise_if_cancelling()
        return None
    head, _, body = response.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200") or not body.strip().isdigit():
        return None
    return int(body)


async def wait_for(
    *, port: int, revision: int, seconds: float, alive: Callable[[], bool] = lambda: True
) -> bool:
    """Poll until `revision` (or a newer one) answers.

    Returns:
        True once it does; False after `seconds`, or once `alive()` is false (nginx died).
    """
    deadline = time.monotonic() + seconds
    streak = 0
    while time.monotonic() < deadline and alive():
        live = await live_revision(port)
        if live is not None and live >= revision:
            streak += 1
            if streak >= CONFIRMATIONS:
                return True
            continue
        streak = 0
        await asyncio.sleep(POLL_INTERVAL)
    return False


def raise_if_cancelling() -> None:
    """Re-raise a cancellation an `asyncio.timeout` turned into `TimeoutError`.

    On Python 3.11, when the task is cancelled just as its timeout expires, the timeout may
    swallow the cancellation; a loop that then goes on would outlive the service's shutdown.

    Raises:
        CancelledError: The current task was asked to stop.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


def pick_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now (for the status server)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
