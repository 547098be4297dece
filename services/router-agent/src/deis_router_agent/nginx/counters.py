"""Read nginx's per-app request counters (`deis_metrics.lua`) through the balancer's socket.

`GET /metrics` on the agent-only Unix socket answers every counter as text lines
(`domain.metering.parse` reads them).
"""

import asyncio
import contextlib
from pathlib import Path

from deis_router_agent.errors import NginxFailed
from deis_router_agent.nginx import status


async def read(path: Path, *, seconds: float) -> str:
    """The counters nginx listening on the Unix socket `path` answers.

    Raises:
        NginxFailed: nothing listens there, it took longer than `seconds`, or it did not
            answer 200.
    """
    try:
        async with asyncio.timeout(seconds):
            reader, writer = await asyncio.open_unix_connection(str(path))
            try:
                writer.write(b"GET /metrics HTTP/1.0\r\nHost: balancer\r\n\r\n")
                await writer.drain()
                response = await reader.read()
            finally:
                writer.close()
                with contextlib.suppress(ConnectionError):
                    await writer.wait_closed()
    except (OSError, TimeoutError) as error:
        status.raise_if_cancelling()
        raise NginxFailed(f"cannot read request counters through {path}: {error!r}") from error
    head, _, body = response.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        first = head.partition(b"\r\n")[0].decode(errors="replace")
        raise NginxFailed(f"nginx did not answer its request counters: {first}")
    return body.decode(errors="replace")
