# mypy: allow-untyped-defs, allow-untyped-calls, allow-incomplete-defs
"""ACME answers in the configuration: every plain HTTP server starts with them (before an app's
whitelist, redirect and maintenance), HTTPS servers have none; the set sent is validated."""

import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest

from deis_router_agent.domain import balancing, challenging, rendering, skeleton
from deis_router_agent.domain.options import KeyPair, Options, Paths, Upstream
from deis_router_agent.errors import UnsafeValue
from deis_shared.kv import challenges as challenges_kv, routes as routes_kv

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
REWRITE = r'rewrite "^/\.well-known/acme-challenge/[A-Za-z0-9_-]{22,128}$" $uri break;'
LOCATION = (
    "location ^~ /.well-known/acme-challenge/ "
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


def first_rewrite_directive(block):
    """The first line of the server's rewrite-phase directives (`rewrite`, `if`, `return`)."""
    return next(line for line in block if line.split()[0] in ("rewrite", "if", "return", "set"))


def test_the_lines_match_the_shared_contract():
    assert challenging.server_lines() == [REWRITE, LOCATION]
    pattern = re.compile(challenging.REWRITE_PATTERN)
    assert pattern.fullmatch(f"{challenges_kv.PATH_PREFIX}{TOKEN}")
    for hostile in ("short", "a" * 129, f"{TOKEN}/x", "../" + "a" * 22, f"{TOKEN} "):
        assert not pattern.fullmatch(f"{challenges_kv.PATH_PREFIX}{hostile}"), hostile


@pytest.mark.parametrize(
    ("fields", "later"),
    [
        ({}, "location / {"),
        ({"whitelist": ["10.0.0.0/8"]}, "if ($deis_allow_web = 0) { return 403; }"),
        ({"maintenance": True}, "return 503"),
    ],
)
def test_each_http_server_of_an_app_answers_first(fields, later):
    values: dict[str, Any] = {
        "app": "web",
        "default_domain": "web.deis.test",
        "domains": ["www.example.com"],
        "certificates": [
            routes_kv.Certificate.model_construct(
                name="c", domains=["www.example.com"], certificate="PEM", key="KEY"
            )
        ],
        "whitelist": [],
        "https_enforced": True,
        "maintenance": False,
        "routable": True,
    }
    values.update(fields)
    config = rendering.render_app(
        routes=routes_kv.Routes.model_construct(**values), options=OPTIONS
    )
    assert config is not None
    plain, redirecting, secure = servers(config.text)
    for block in (plain, redirecting):
        assert block[0] == "listen 8080;"
        assert first_rewrite_directive(block) == REWRITE
        assert block.index(REWRITE) + 1 == block.index(LOCATION)
    assert any(line.startswith(later) for line in plain)
    assert first_rewrite_directive(redirecting) == REWRITE
    assert any(line.startswith("return 301 https://$host") for line in redirecting)
    assert secure[0] == "listen 8443 ssl;"
    assert REWRITE not in secure
    assert LOCATION not in secure


def main(options):
    return skeleton.render_main(options=options, revision=3, apps_dir=Path("/d/releases/3/apps"))


def test_the_default_http_server_answers_and_the_https_one_does_not():
    blocks = servers(main(OPTIONS))
    default_http = next(b for b in blocks if b[0] == "listen 8080 default_server;")
    assert first_rewrite_directive(default_http) == REWRITE
    assert LOCATION in default_http
    assert default_http.index(LOCATION) < default_http.index(
        next(line for line in default_http if line.startswith("return 404"))
    )
    default_https = next(b for b in blocks if b[0] == "listen 8443 ssl default_server;")
    assert REWRITE not in default_https
    assert LOCATION not in default_https


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
    assert first_rewrite_directive(plain) == REWRITE
    assert LOCATION in plain
    secure = next(b for b in blocks if b[0] == "listen 8443 ssl;")
    assert LOCATION not in secure


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
