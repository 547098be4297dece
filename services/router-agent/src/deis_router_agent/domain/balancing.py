"""The Lua balancer's part of the configuration, and the endpoints it is given.

As ingress-nginx does, apps' endpoints are not written into the configuration: every app's
upstream is a `balancer_by_lua_block` reading them from a shared dict (`nginx/deis_balancer.lua`),
which the agent fills through a Unix socket, so a deploy or a scale needs no reload:

    load_module "<modules>/ndk_http_module.so";  load_module "<modules>/ngx_http_lua_module.so";
    http {
        lua_package_path "<data_dir>/lua/?.lua;;";
        lua_shared_dict deis_endpoints 32m;
        init_by_lua_block { require("deis_balancer").configure([=[<503 page>]=]) }
        server { listen "unix:<socket>"; location = /endpoints { content_by_lua_block ... } }
        upstream deis-apps { server 0.0.0.1; balancer_by_lua_block { ... } keepalive N; }
    }
    location / { access_by_lua_block { ...admit("<app>") } proxy_pass http://deis-apps; }

(`server 0.0.0.1` is nginx's required placeholder: the balancer sets every peer.) Every app
shares the one upstream: `admit` has chosen the app's peer before the balancer runs, and
nginx keeps idle connections per peer address whatever the upstream, so nothing is lost; an
upstream per app would cost nginx a scan of every other upstream per app at each `nginx -t`
and reload (72% of a 14.7 s `nginx -t` at 10,000 apps). The socket
is the only way in: no TCP port, and its directory is the agent's, mode 0700. Lines sent
through it name an app and its peers as IP addresses and ports (`body`); each value passes
`safety` (or `ipaddress`) first, as in the rendering, and the Lua side checks them again.
"""

import ipaddress
from collections.abc import Iterable, Mapping

from deis_router_agent.domain import challenging, hosting, metering, pages, safety, syntax
from deis_router_agent.domain.options import Options
from deis_router_agent.errors import UnsafeValue

UPSTREAM = "deis-apps"
"""The one upstream every app's `location /` proxies to."""

LUA_MODULE = "deis_balancer"
"""The Lua module's name: `<options.paths.lua>/deis_balancer.lua`."""

SHARED_DICT = "deis_endpoints"
SHARED_DICT_SIZE = "32m"
"""Room for the endpoints of every app: about 100 bytes per app plus 22 per process."""

BODY_LIMIT = "64m"
"""Largest endpoints request (kept in memory, so that Lua reads it whole)."""


def main_lines(options: Options) -> list[str]:
    """Main-context lines: the Lua module (and the NDK before it) when they are dynamic."""
    return [f"load_module {syntax.path(module)};" for module in options.lua_modules]


def http_lines(options: Options) -> list[str]:
    """Lines inside `http { }`: the module's path, the shared dict, the endpoints socket."""
    paths = options.paths
    package = syntax.path(paths.lua)[:-1] + '/?.lua;;"'
    return [
        f"lua_package_path {package};",
        f"lua_shared_dict {SHARED_DICT} {SHARED_DICT_SIZE};",
        *metering.http_lines(megabytes=options.metrics_memory),
        *challenging.http_lines(),
        *hosting.http_lines(options),
        "init_by_lua_block {",
        f'    require("{LUA_MODULE}").configure([=[{pages.UNAVAILABLE}]=])',
        f"    {hosting.init_code(options)}",
        f"    {metering.init_code()}",
        "}",
        "server {",
        f"    listen {syntax.unix(paths.balancer_socket)};",
        "    access_log off;",
        f"    client_max_body_size {BODY_LIMIT};",
        f"    client_body_buffer_size {BODY_LIMIT};",
        "    location = /endpoints {",
        f'        content_by_lua_block {{ require("{LUA_MODULE}").update() }}',
        "    }",
        *(f"    {line}" for line in metering.socket_lines()),
        *(f"    {line}" for line in challenging.socket_lines()),
        *(f"    {line}" for line in hosting.socket_lines()),
        "    location / { return 404; }",
        "}",
        *_upstream_lines(options),
    ]


def _upstream_lines(options: Options) -> list[str]:
    """The apps' upstream: each request's peer chosen by the balancer, idle connections kept."""
    lines = [
        f"upstream {UPSTREAM} {{",
        "    server 0.0.0.1;",
        f'    balancer_by_lua_block {{ require("{LUA_MODULE}").balance() }}',
    ]
    if options.upstream_keepalive:
        lines.append(f"    keepalive {options.upstream_keepalive};")  # after the balancer
    lines.append("}")
    return lines


def peer(address: str, port: int) -> str:
    """`ip:port` (`[ipv6]:port`) as the balancer takes it.

    Raises:
        UnsafeValue: `address` is not an IP address, or `port` not a port.
    """
    try:
        ip = ipaddress.ip_address(safety.host(address))
    except ValueError as error:
        raise UnsafeValue(f"refusing peer address {address!r}") from error
    port = safety.port(port)
    return f"[{ip.compressed}]:{port}" if ip.version == 6 else f"{ip.compressed}:{port}"


def body(entries: Mapping[str, Iterable[str]]) -> bytes:
    """The request body setting these apps' peers (no peers: the app has no process)."""
    lines = []
    for app, peers in sorted(entries.items()):
        lines.append(" ".join((safety.app(app), *peers)) + "\n")
    return "".join(lines).encode()
