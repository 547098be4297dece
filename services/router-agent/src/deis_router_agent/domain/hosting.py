"""The servers every app is served by: a catch-all per port, routing by nginx's route table.

No app has a server block of its own. The HTTP port's default server and one HTTPS server
matching every name take each request's host to the app that holds it, in Lua
(`nginx/deis_routes.lua`), from a shared dict the agent fills through its socket
(`rendering` makes the lines), so nginx's configuration is the same whatever the apps:

    http {
        lua_shared_dict deis_routes <routes_memory>m;
        server { listen "unix:<socket>"; location = /routes { content_by_lua_block ... } }
        server { listen <http> default_server; server_name _;
                 <ACME answers>; set $deis_app ""; <request counters>
                 location / { access_by_lua_block { route(false) } proxy_pass http://deis-apps; } }
        server { listen <https> ssl default_server; server_name _; ssl_reject_handshake on; }
        server { listen <https> ssl; server_name ~.;
                 ssl_certificate <fallback>; ssl_certificate_by_lua_block { certificate() }
                 set $deis_app ""; set $deis_hsts ""; add_header Strict-Transport-Security ...
                 location / { access_by_lua_block { route(true) } proxy_pass http://deis-apps; } }
    }

A handshake without a server name meets the default server and is refused; one naming a
host without a certificate is refused by `certificate()`. nginx wants a certificate in every
`ssl` server all the same: the fallback, a self-signed pair the agent makes once, which no
handshake is ever finished with. Names nginx matches exactly (the controller's) come before
the catch-all's regular expression, so the platform's servers keep their own.
"""

from pathlib import Path

from deis_router_agent.domain import challenging, metering, pages, syntax
from deis_router_agent.domain.options import Options

LUA_MODULE = "deis_routes"
"""The Lua module's name: `<options.paths.lua>/deis_routes.lua`."""

SHARED_DICT = "deis_routes"

SOCKET_LOCATION = "/routes"
"""Where the agent sends apps' lines, on its socket."""

FALLBACK = "_fallback.pem"
"""The fallback pair's file (key and certificate) in the TLS directory."""


def fallback_path(options: Options) -> Path:
    """Where the fallback certificate and key are (`nginx.layout` writes them)."""
    return options.paths.tls / FALLBACK


def http_lines(options: Options) -> list[str]:
    """Lines inside `http { }` before the servers: the route table's shared dict."""
    return [f"lua_shared_dict {SHARED_DICT} {options.routes_memory}m;"]


def init_code(options: Options) -> str:
    """Code of `init_by_lua_block`: the module, with the pages and the HSTS header."""
    port = options.https_redirect_port
    hsts = f"max-age={options.hsts_max_age}"
    return (
        f'require("{LUA_MODULE}").configure([=[{pages.NOT_FOUND}]=], '
        f'[=[{pages.MAINTENANCE}]=], "{hsts}", {port})'
    )


def socket_lines() -> list[str]:
    """The location of the agent's socket server that takes the apps' lines."""
    code = f'require("{LUA_MODULE}").update()'
    return [f"location = {SOCKET_LOCATION} {{ content_by_lua_block {{ {code} }} }}"]


def _serve(*, https: bool, upstream: str) -> list[str]:
    route = f'require("{LUA_MODULE}").route({str(https).lower()})'
    return [
        'set $deis_app "";',
        metering.server_line(),
        f"location / {{ access_by_lua_block {{ {route} }} proxy_pass http://{upstream}; }}",
    ]


def server_lines(options: Options, *, upstream: str) -> list[str]:
    """The default servers: every app's HTTP and HTTPS, unknown hosts' 404, refused names.

    `upstream` is the one every app's requests go to (`balancing`).
    """
    http = syntax.listen(options.listen_address, options.http_port, "default_server")
    https_default = syntax.listen(
        options.listen_address, options.https_port, "ssl", "default_server"
    )
    https = syntax.listen(options.listen_address, options.https_port, "ssl")
    fallback = syntax.path(fallback_path(options))
    certificate = f'require("{LUA_MODULE}").certificate()'
    blocks = [
        [
            http,
            "server_name _;",
            *challenging.server_lines(),
            *_serve(https=False, upstream=upstream),
        ],
        [https_default, "server_name _;", "ssl_reject_handshake on;"],
        [
            https,
            "server_name ~.;",
            f"ssl_certificate {fallback};",
            f"ssl_certificate_key {fallback};",
            f"ssl_certificate_by_lua_block {{ {certificate} }}",
            'set $deis_hsts "";',
            "add_header Strict-Transport-Security $deis_hsts always;",
            *_serve(https=True, upstream=upstream),
        ],
    ]
    lines: list[str] = []
    for block in blocks:
        lines.extend(["server {", *(f"    {line}" for line in block), "}"])
    return lines
