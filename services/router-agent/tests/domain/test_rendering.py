# mypy: allow-untyped-defs, allow-untyped-calls, allow-incomplete-defs
"""The renderer is the router's security boundary: hostile values never reach the text."""

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from deis_router_agent.domain import balancing, pages, rendering, skeleton
from deis_router_agent.domain.options import Options, Paths
from deis_router_agent.errors import UnsafeValue
from deis_shared.kv import routes as routes_kv

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


def routes(**fields):
    values: dict[str, Any] = {
        "app": "web",
        "default_domain": "web.deis.test",
        "domains": [],
        "certificates": [],
        "whitelist": [],
        "https_enforced": False,
        "maintenance": False,
        "routable": True,
    }
    values.update(fields)
    return routes_kv.Routes.model_construct(**values)  # no validation: as hostile as it gets


def cert(name="c", domains=("web.deis.test",)):
    return routes_kv.Certificate.model_construct(
        name=name, domains=list(domains), certificate="PEM", key="KEY"
    )


def test_an_app_renders_its_domains_balancer_and_certificates():
    config = rendering.render_app(
        routes=routes(domains=["www.example.com", "alias", "*.example.org"],
                      certificates=[cert(domains=["www.example.com"])], https_enforced=True),
        options=OPTIONS,
    )  # fmt: skip
    assert config is not None
    text = config.text
    # No endpoint in the file, nor an upstream: the balancer takes them from its shared dict,
    # through the one upstream every app shares.
    assert "upstream" not in text
    assert 'access_by_lua_block { require("deis_balancer").admit("web") }' in text
    assert "proxy_pass http://deis-apps;" in text
    assert "server_name web.deis.test alias.deis.test *.example.org;" in text
    assert "server_name www.example.com;" in text
    assert "return 301 https://$host$request_uri;" in text  # port 443: none in the URL
    assert 'Strict-Transport-Security "max-age=15724800" always' in text
    (crt, key) = sorted(config.tls_files)
    assert crt.parent == key.parent == Path("/d/tls/web")
    assert config.tls_files[key] == "KEY"


def test_unroutable_or_absent_apps_render_nothing():
    assert rendering.render_app(routes=None, options=OPTIONS) is None
    unroutable = routes(routable=False)
    assert rendering.render_app(routes=unroutable, options=OPTIONS) is None


HOSTILE = [
    {"app": "web;"},
    {"app": "web\n}"},
    {"default_domain": "web.deis.test; return 200 owned"},
    {"default_domain": "web.deis.test\n"},
    {"domains": ["a.com b.com"]},
    {"domains": ["a.com;"]},
    {"domains": ["$host"]},
    {"domains": ['a"b.com']},
    {"domains": ["a.com}"]},
    {"domains": ["A.COM"]},
    {"domains": ["**.a.com"]},
    {"domains": [""]},
    {"whitelist": ["10.0.0.0/8; allow all"]},
    {"whitelist": ["all"]},
    {"whitelist": ["fe80::1%eth0"]},
    {"whitelist": ["10.0.0.0/255.0.0.0"]},
    {"certificates": [cert(name="../../etc/passwd")]},
    {"certificates": [cert(name="c d")]},
    {"certificates": [cert(domains=["a.com;"])]},
]


@pytest.mark.parametrize("fields", HOSTILE)
def test_hostile_routes_are_refused_whole(fields):
    with pytest.raises(UnsafeValue):
        rendering.render_app(routes=routes(**fields), options=OPTIONS)


@pytest.mark.parametrize(
    ("host", "port"), [("127.0.0.1;", 80), ("evil host", 80), ("10.0.0.1", 0), ("10.0.0.1", "80;"),
                       ("fe80::1%25lo", 80), ("$remote_addr", 80), ("127.0.0.1", 70000),
                       ("web.example.com", 80), ("10.0.0.1\n", 80)],
)  # fmt: skip
def test_hostile_peers_are_refused(host, port):
    with pytest.raises(UnsafeValue):
        balancing.peer(host, port)


def test_peers_and_the_endpoints_body():
    assert balancing.peer("10.1.2.3", 5000) == "10.1.2.3:5000"
    assert balancing.peer("0:0::1", 5001) == "[::1]:5001"
    body = balancing.body({"web": ["10.1.2.3:5000", "[::1]:5001"], "idle": []})
    assert body == b"idle\nweb 10.1.2.3:5000 [::1]:5001\n"
    with pytest.raises(UnsafeValue):
        balancing.body({"web\nevil": []})


def test_the_balancer_socket_is_the_only_way_in():
    main = skeleton.render_main(options=OPTIONS, revision=7, apps_dir=Path("/d/releases/7/apps"))
    assert 'listen "unix:/d/run/b.sock";' in main
    assert 'lua_package_path "/d/lua/?.lua;;";' in main
    assert "lua_shared_dict deis_endpoints" in main
    assert main.count("upstream ") == 1  # one for every app
    shared = main[main.index("upstream deis-apps {") :]
    assert shared.startswith(
        "upstream deis-apps {\n        server 0.0.0.1;\n        balancer_by_lua_block"
    ), shared[:200]
    assert shared.index("balancer_by_lua_block") < shared.index("keepalive 256;")
    assert "load_module" not in main  # built in: no module to load
    modules = (Path("/m/ndk_http_module.so"), Path("/m/ngx_http_lua_module.so"))
    loaded = skeleton.render_main(options=dataclasses.replace(OPTIONS, lua_modules=modules),
                                  revision=7, apps_dir=Path("/d/apps"))  # fmt: skip
    assert loaded.index('load_module "/m/ndk_http_module.so";') < loaded.index("ngx_http_lua")


def test_the_static_pages_cannot_break_out_of_their_string_and_name_no_app():
    for page in pages.ALL:
        assert not set(page) & set('"\\$;{}')
    main = skeleton.render_main(options=OPTIONS, revision=7, apps_dir=Path("/d/releases/7/apps"))
    assert 'location = /revision { return 200 "7"; }' in main
    assert "listen 127.0.0.1:9999;" in main
    assert 'include "/d/releases/7/apps/*.conf";' in main
    assert "user " not in main  # not root: nginx runs workers as the agent


def test_data_dir_paths_that_nginx_would_interpret_are_refused():
    paths = dataclasses.replace(OPTIONS.paths, pid=Path("/d/x;y"))
    hostile = dataclasses.replace(OPTIONS, paths=paths)
    with pytest.raises(UnsafeValue):
        skeleton.render_main(options=hostile, revision=1, apps_dir=Path("/d/apps"))
