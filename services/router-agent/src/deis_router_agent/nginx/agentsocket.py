"""One HTTP/1.0 request to nginx's agent-only Unix socket (the Lua modules' `location`s).

The balancer's endpoints, the request counters and the ACME answers all go through the same
socket (`domain.balancing.http_lines`): this is the one client of it. A request opens a
connection, sends, reads the whole answer and closes; nginx answers once its shared dict
holds what was sent.
"""

import asyncio
import contextlib
from pathlib import Path

from deis_router_agent.errors import NginxFailed
from deis_router_agent.nginx import status


async def request(
    path: Path, *, method: str, target: str, body: bytes = b"", seconds: float, what: str
) -> bytes:
    """`method target` with `body` to nginx listening on the Unix socket `path`; its body.

    `what` names the request in errors ("set endpoints", "read request counters").

    Raises:
        NginxFailed: nothing listens there, it took longer than `seconds`, or nginx did not
            answer 200 (its status line and the start of its answer quoted).
    """
    head = f"{method} {target} HTTP/1.0\r\nHost: agent\r\nContent-Length: {len(body)}\r\n\r\n"
    try:
        async with asyncio.timeout(seconds):
            reader, writer = await asyncio.open_unix_connection(str(path))
            try:
                writer.write(head.encode() + body)
                await writer.drain()
                response = await reader.read()
            finally:
                writer.close()
                with contextlib.suppress(ConnectionError):
                    await writer.wait_closed()
    except (OSError, TimeoutError) as error:
        status.raise_if_cancelling()
        raise NginxFailed(f"cannot {what} through {path}: {error!r}") from error
    first, _, rest = response.partition(b"\r\n")
    answer = rest.partition(b"\r\n\r\n")[2]
    if not first.startswith(b"HTTP/1.1 200"):
        quoted = answer[:300].decode(errors="replace").strip()
        raise NginxFailed(f"nginx refused to {what}: {first.decode(errors='replace')}: {quoted}")
    return answer
