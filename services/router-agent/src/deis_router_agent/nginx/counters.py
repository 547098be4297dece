"""Read nginx's per-app request counters (`deis_metrics.lua`) through the balancer's socket.

`GET /metrics` on the agent-only Unix socket answers every counter as text lines
(`domain.metering.parse` reads them).
"""

from pathlib import Path

from deis_router_agent.nginx import agentsocket


async def read(path: Path, *, seconds: float) -> str:
    """The counters nginx listening on the Unix socket `path` answers.

    Raises:
        NginxFailed: nothing listens there, it took longer than `seconds`, or it did not
            answer 200.
    """
    body = await agentsocket.request(
        path, method="GET", target="/metrics", seconds=seconds, what="read request counters"
    )
    return body.decode(errors="replace")
