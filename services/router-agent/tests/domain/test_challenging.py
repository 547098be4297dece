# mypy: allow-untyped-defs, allow-untyped-calls, allow-incomplete-defs
"""ACME answers in the configuration: every plain HTTP server (the apps' catch-all, the
controller's) starts with them, HTTPS servers have none; the set sent is validated."""

import dataclasses
import re
from pathlib import Path

import pytest

from deis_router_agent.domain import balancing, challenging, hosting, skeleton
from deis_router_agent.domain.options import KeyPair, Options, Paths, Upstream
from deis_router_agent.errors import UnsafeValue
from deis_shared.kv import challenges as challenges_kv

OPTIONS = Options(
    paths=Paths(pid=Path("/d/nginx.pid"), logs=Path("/d/logs"), temp=Path("/d/temp"),
                tls=Path("/d/tls"), lua=Path("/d/lua"), balancer_socket=Path("/d/run/b.sock")),
    platform_domain="deis.test",
    listen_address="",
    http_port=8080,
    https_port=8443,
    https_redirect_port=443,
    status_port=9999,
    worker_user=None,
)  # fmt: skip
LOCATION = (
    r'location ~ "^/\.well-known/acme-challenge/[A-Za-z0-9_-]{22,128}$" '
    '{ content_by_lua_block { require("deis_acme").answer() } }'
)
TOKEN = "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA"


def servers(text):
    """Every `server { }` block of `text`, as the list of its inner lines (stripped)."""
    found, lines = [], text.splitlines()
    for start, line in enumerate(lines):
        if line.strip() == "server {":
            depth, block = 0, []
            for inner in lines[start:]:
                block.append(inner.strip())
                depth += inner.count("{") - inner.count("}")
                if depth == 0:
                    break
            found.append(block[1:-1])
    return found


def server_level_answers(block):
    """The server's own rewrite-phase directives that could answer before any location
    (`rewrite`, `if`, `return`): a challenge would never reach its location behind one."""
    return [line for line in block if line.split()[0] in ("rewrite", "if", "return")]


def test_the_lines_match_the_shared_contract():
    assert challenging.server_lines() == [LOCATION]
    pattern = re.compile(challenging.PATH_PATTERN)
    assert pattern.fullmatch(f"{challenges_kv.PATH_PREFIX}{TOKEN}")
    for hostile in ("short", "a" * 129, f"{TOKEN}/x", "../" + "a" * 22, f"{TOKEN} "):
        assert not pattern.fullmatch(f"{challenges_kv.PATH_PREFIX}{hostile}"), hostile


def main(options):
    return skeleton.render_main(options=options, revision=3)


def test_the_http_catch_all_answers_first_and_the_https_servers_do_not():
    """Every app's whitelist, HTTPS redirect and maintenance are the route table's, in the
    access phase of `location /`: a challenge's path never gets there."""
    plain, refusing, secure = servers("\n".join(hosting.server_lines(OPTIONS, upstream="up")))
    assert plain[:3] == ["listen 8080 default_server;", "server_name _;", LOCATION]
    assert server_level_answers(plain) == []
    routing = next(line for line in plain if line.startswith("location / {"))
    assert plain.index(LOCATION) < plain.index(routing)
    assert 'require("deis_routes").route(false)' in routing
    assert refusing[0] == "listen 8443 ssl default_server;"
    assert secure[:2] == ["listen 8443 ssl;", "server_name ~.;"]
    for block in (refusing, secure):
        assert LOCATION not in block


def test_the_main_files_default_http_server_answers_and_the_https_ones_do_not():
    blocks = servers(main(OPTIONS))
    default_http = next(b for b in blocks if b[0] == "listen 8080 default_server;")
    assert default_http[2] == LOCATION
    assert server_level_answers(default_http) == []
    assert default_http.index(LOCATION) < default_http.index(
        next(line for line in default_http if line.startswith("location / {"))
    )
    https = [b for b in blocks if b[0].startswith("listen 8443 ssl")]
    assert len(https) == 2  # the default server refusing handshakes, the catch-all
    for block in https:
        assert LOCATION not in block
    # Plain HTTP servers: the catch-all only (no controller here), each starting with them.
    plain = [b for b in blocks if b[0].startswith("listen 8080")]
    assert plain == [default_http]


@pytest.mark.parametrize("enforced", [False, True])
def test_the_controllers_http_server_answers_even_when_it_redirects(enforced):
    pem = Path("/d/tls/_platform/deis.pem")
    options = dataclasses.replace(
        OPTIONS,
        controller=Upstream(host="10.0.0.5", port=8000),
        platform_tls=KeyPair(certificate=pem, key=pem),
        platform_https_enforced=enforced,
    )
    blocks = [b for b in servers(main(options)) if "server_name deis.deis.test;" in b]
    plain = next(b for b in blocks if b[0] == "listen 8080;")
    assert plain[:3] == ["listen 8080;", "server_name deis.deis.test;", LOCATION]
    assert server_level_answers(plain) == []  # the redirect is `location /`'s
    secure = next(b for b in blocks if b[0] == "listen 8443 ssl;")
    assert LOCATION not in secure
    # Both plain HTTP servers of the file start with them: the controller's, the catch-all.
    plain_servers = [b for b in servers(main(options)) if b[0].startswith("listen 8080")]
    assert len(plain_servers) == 2
    assert all(b[2] == LOCATION for b in plain_servers)


def test_the_shared_dict_and_the_socket_location():
    lines = balancing.http_lines(OPTIONS)
    assert "lua_shared_dict deis_challenges 1m;" in lines
    assert (
        '    location = /challenges { content_by_lua_block { require("deis_acme").update() } }'
        in lines
    )


def test_the_body_is_sorted_lines_and_refuses_what_lua_would():
    other = "A" * 22
    assert challenging.body({TOKEN: f"{TOKEN}.thumb", other: f"{other}.t"}) == (
        f"{other} {other}.t\n{TOKEN} {TOKEN}.thumb\n".encode()
    )
    assert challenging.body({}) == b""
    for token, value in (
        ("short", "x"),
        ("../" + "a" * 22, "x"),
        ("a" * 21 + " ", "x"),
        (TOKEN, "has space"),
        (TOKEN, "line\nbreak"),
        (TOKEN, ""),
        (TOKEN, "x" * 301),
    ):
        with pytest.raises(UnsafeValue):
            challenging.body({token: value})
