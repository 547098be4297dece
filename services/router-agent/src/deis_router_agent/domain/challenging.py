r"""ACME HTTP-01 answers in nginx: their part of the configuration, and the set the agent sends.

Every router answers the challenges the controller's certificate issuer holds open (KV
`challenges`), for whatever host asks, from a shared dict (`nginx/deis_acme.lua`) the agent
fills through the balancer's socket, so a challenge needs no reload:

    http {
        lua_shared_dict deis_challenges 1m;
        server { listen "unix:<socket>"; location = /challenges { content_by_lua_block ... } }
    }
    server { listen <http>; ...                (the apps' catch-all, the controller's server)
        location ~ "^/\.well-known/acme-challenge/[A-Za-z0-9_-]{22,128}$" {
            content_by_lua_block { ...answer() } }
        <the server's own locations>
    }

A regular expression location comes before every prefix location but `^~`, so a challenge
path (and only one: a path under the prefix that is no token goes where any other path goes)
is answered ahead of the app's whitelist, HTTPS redirect and maintenance page, which the
route table's Lua answers in the access phase of `location /`, and ahead of the controller's
redirect. HTTPS servers need nothing: HTTP-01 is validated over plain HTTP only.
"""

import re
from collections.abc import Mapping

from deis_router_agent.errors import UnsafeValue
from deis_shared.kv import challenges as challenges_kv

LUA_MODULE = "deis_acme"
"""The Lua module's name: `<options.paths.lua>/deis_acme.lua`."""

SHARED_DICT = "deis_challenges"
SHARED_DICT_SIZE = "1m"
"""Room for some thousands of open challenges (about 150 bytes each)."""

SOCKET_LOCATION = "/challenges"
"""Where the agent PUTs the whole set, on the balancer's socket."""

PATH_PATTERN = r"^/\.well-known/acme-challenge/[A-Za-z0-9_-]{22,128}$"
"""A challenge's path (`PATH_PREFIX` and a token, `TOKEN_PATTERN`), as the location matches
it (quoted in the configuration: nginx takes a `{` as a block's start otherwise)."""

_TOKEN = re.compile(challenges_kv.TOKEN_PATTERN.strip("^$"), re.ASCII)
_KEY_AUTHORIZATION = re.compile(r"[A-Za-z0-9_.-]{1,300}", re.ASCII)


def http_lines() -> list[str]:
    """Lines inside `http { }`: the shared dict."""
    return [f"lua_shared_dict {SHARED_DICT} {SHARED_DICT_SIZE};"]


def socket_lines() -> list[str]:
    """The location of the agent's socket server that takes the challenges."""
    code = f'require("{LUA_MODULE}").update()'
    return [f"location = {SOCKET_LOCATION} {{ content_by_lua_block {{ {code} }} }}"]


def server_lines() -> list[str]:
    """The challenge's location, first in every plain HTTP server."""
    answer = f'content_by_lua_block {{ require("{LUA_MODULE}").answer() }}'
    return [f'location ~ "{PATH_PATTERN}" {{ {answer} }}']


def body(answers: Mapping[str, str]) -> bytes:
    """The request body setting these challenges (token → key authorization), sorted.

    Raises:
        UnsafeValue: a token or key authorization has characters the Lua side refuses.
    """
    lines = []
    for token, key_authorization in sorted(answers.items()):
        if _TOKEN.fullmatch(token) is None:
            raise UnsafeValue(f"refusing ACME token {token[:80]!r}")
        if _KEY_AUTHORIZATION.fullmatch(key_authorization) is None:
            raise UnsafeValue(f"refusing key authorization {key_authorization[:80]!r}")
        lines.append(f"{token} {key_authorization}\n")
    return "".join(lines).encode()
