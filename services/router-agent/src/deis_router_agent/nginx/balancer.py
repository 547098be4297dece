"""Set apps' endpoints in nginx's Lua balancer, through its Unix socket (`deis_balancer.lua`).

One HTTP/1.0 request per change: PUT replaces every app's endpoints (after nginx started: its
shared dict starts empty), PATCH sets the apps named. nginx answers once the shared dict holds
them, and from then on every worker chooses among the new peers: the change is live.

The balancer takes IP addresses only (`ngx.balancer` connects to addresses, it resolves
nothing), so endpoints naming a host (a Kubernetes Service, say) are resolved here, when they
change and when nginx restarts, as nginx itself resolved `server` names when it loaded its
configuration.
"""

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from pathlib import Path

from deis_router_agent.domain import balancing, safety
from deis_router_agent.errors import UnresolvedHost
from deis_router_agent.nginx import agentsocket
from deis_shared.kv import endpoints as endpoints_kv


async def peers(upstreams: Iterable[endpoints_kv.Upstream]) -> list[str]:
    """The balancer's peers (`ip:port`) of these upstreams, host names resolved, in order.

    Raises:
        UnsafeValue: a host or port fails its `safety` check.
        UnresolvedHost: a host name has no address.
    """
    found: dict[str, None] = {}
    loop = asyncio.get_running_loop()
    for upstream in upstreams:
        host = safety.host(upstream.host)
        port = safety.port(upstream.port)
        try:
            addresses = [str(ipaddress.ip_address(host))]
        except ValueError:
            try:
                infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            except OSError as error:
                raise UnresolvedHost(f"cannot resolve {host}: {error}") from error
            addresses = [str(info[4][0]) for info in infos]
        for address in addresses:
            found[balancing.peer(address, port)] = None
    return list(found)


async def send(path: Path, *, body: bytes, replace: bool, seconds: float) -> None:
    """PUT (`replace`) or PATCH `body` to the balancer listening on the Unix socket `path`.

    Raises:
        NginxFailed: nothing listens there, or nginx refused the body (its answer quoted).
    """
    method = "PUT" if replace else "PATCH"
    await agentsocket.request(
        path, method=method, target="/endpoints", body=body, seconds=seconds, what="set endpoints"
    )
