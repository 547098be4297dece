# mypy: allow-untyped-defs, allow-untyped-calls, allow-incomplete-defs
"""The renderer is the router's security boundary: hostile values never reach the text."""

import base64
import dataclasses
import hashlib
from pathlib import Path
from typing import Any

import pytest

from deis_router_agent.domain import balancing, hosting, keypairs, pages, rendering, skeleton
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


CERTIFICATE_START = "-----BEGIN CERTIFICATE-----"


def pair(name="web.deis.test"):
    """A real (certificate PEM, key PEM) pair: `keypairs.self_signed` writes the key first."""
    text = keypairs.self_signed(name)
    start = text.index(CERTIFICATE_START)
    return text[start:], text[:start]


PAIR = pair()
OTHER_PAIR = pair()


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


def cert(name="c", domains=("web.deis.test",), certificate=PAIR[0], key=PAIR[1]):
    return routes_kv.Certificate.model_construct(
        name=name, domains=list(domains), certificate=certificate, key=key
    )


def digest(certificate, key):
    return hashlib.sha256(f"{certificate}\0{key}".encode()).hexdigest()[:16]


def b64(text):
    return base64.b64encode(text.encode()).decode()


def test_an_app_renders_its_line_with_flags_whitelist_domains_and_certificate_ids():
    config = rendering.render_app(
        routes=routes(domains=["www.example.com", "alias", "*.example.org"],
                      certificates=[cert(domains=["www.example.com", "elsewhere.example.net"])],
                      whitelist=["10.0.0.0/8", "2001:db8::/32"],
                      https_enforced=True, maintenance=True),
        options=OPTIONS,
    )  # fmt: skip
    assert config is not None
    id_ = f"web/c-{digest(*PAIR)}"
    assert config.app == "web"
    assert config.line == (
        "app web me 0a000000/8,20010db8000000000000000000000000/32 "
        f"web.deis.test=- www.example.com={id_} alias.deis.test=- *.example.org=-"
    )
    assert config.domains == [
        "web.deis.test",
        "www.example.com",
        "alias.deis.test",
        "*.example.org",
    ]
    assert config.certificates == {id_: PAIR}
    # What nginx's route table takes: the certificates first (base64: one token each), the app.
    assert config.text() == f"cert {id_} {b64(PAIR[0])} {b64(PAIR[1])}\n{config.line}\n"
    # No nginx directive, endpoint or upstream: the line is data for the Lua route table.
    assert "{" not in config.text()
    assert ";" not in config.text()


@pytest.mark.parametrize(
    ("fields", "flags"),
    [({}, "-"), ({"maintenance": True}, "m"), ({"https_enforced": True}, "e"),
     ({"maintenance": True, "https_enforced": True}, "me")],
)  # fmt: skip
def test_the_flags_are_maintenance_and_enforced_https(fields, flags):
    config = rendering.render_app(routes=routes(**fields), options=OPTIONS)
    assert config is not None
    assert config.line == f"app web {flags} - web.deis.test=-"
    assert config.certificates == {}
    assert config.text() == f"{config.line}\n"


def test_the_first_certificate_naming_a_domain_serves_it_and_unused_ones_are_not_sent():
    config = rendering.render_app(
        routes=routes(domains=["www.example.com"],
                      certificates=[cert(name="first", domains=["web.deis.test"]),
                                    cert(name="second", certificate=OTHER_PAIR[0],
                                         key=OTHER_PAIR[1],
                                         domains=["web.deis.test", "www.example.com"]),
                                    cert(name="unused", domains=["other.example.com"])]),
        options=OPTIONS,
    )  # fmt: skip
    assert config is not None
    first, second = f"web/first-{digest(*PAIR)}", f"web/second-{digest(*OTHER_PAIR)}"
    assert config.line == f"app web - - web.deis.test={first} www.example.com={second}"
    assert config.certificates == {first: PAIR, second: OTHER_PAIR}


def test_a_new_pair_under_the_same_name_is_a_new_certificate_id():
    ids: set[str] = set()
    for certificate, key in (PAIR, OTHER_PAIR):
        config = rendering.render_app(
            routes=routes(certificates=[cert(certificate=certificate, key=key)]), options=OPTIONS
        )
        assert config is not None
        ids.update(config.certificates)
    assert len(ids) == 2


def test_unroutable_or_absent_apps_render_nothing():
    assert rendering.render_app(routes=None, options=OPTIONS) is None
    unroutable = routes(routable=False)
    assert rendering.render_app(routes=unroutable, options=OPTIONS) is None


@pytest.mark.parametrize(
    ("certificate", "key", "why"),
    [
        ("garbage", PAIR[1], "no PEM certificate"),
        (f"{CERTIFICATE_START}\ngarbage\n-----END CERTIFICATE-----\n", PAIR[1], "certificate"),
        (PAIR[0], "garbage", "no unencrypted PEM private key"),
        (PAIR[0], PAIR[0], "no unencrypted PEM private key"),
        (PAIR[0], OTHER_PAIR[1], "the key is not the one"),  # the key of another certificate
        (PAIR[1], PAIR[0], "no PEM certificate"),  # swapped
    ],
)
def test_a_certificate_that_is_not_a_pair_is_refused_and_named(certificate, key, why):
    bad = cert(name="broken", certificate=certificate, key=key)
    with pytest.raises(UnsafeValue, match=f"certificate broken of app web: .*{why}"):
        rendering.render_app(routes=routes(certificates=[bad]), options=OPTIONS)


def test_the_baseline_of_the_hostile_cases_renders():
    """Each hostile case below changes one field of this: what is refused is that field."""
    config = rendering.render_app(
        routes=routes(domains=["a.com"], certificates=[cert()], whitelist=["10.0.0.0/8"]),
        options=OPTIONS,
    )
    assert config is not None
    assert config.domains == ["web.deis.test", "a.com"]


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
    {"whitelist": ["10.0.0.0/33"]},
    {"whitelist": [""]},
    {"whitelist": [None]},
    {"domains": [None]},
    {"certificates": [cert(name="../../etc/passwd")]},
    {"certificates": [cert(name="c d")]},
    {"certificates": [cert(domains=["a.com;"])]},
    {"certificates": [cert(certificate="PEM")]},
    {"certificates": [cert(key="KEY\n}")]},
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
    main = skeleton.render_main(options=OPTIONS, revision=7)
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
    loaded = skeleton.render_main(
        options=dataclasses.replace(OPTIONS, lua_modules=modules), revision=7
    )
    assert loaded.index('load_module "/m/ndk_http_module.so";') < loaded.index("ngx_http_lua")


def test_the_route_table_is_filled_through_the_socket_only():
    main = skeleton.render_main(options=OPTIONS, revision=7)
    assert "lua_shared_dict deis_routes 64m;" in main
    assert f"    {hosting.init_code(OPTIONS)}\n" in main
    socket = main[main.index('listen "unix:/d/run/b.sock";') :]
    socket = socket[: socket.index("\n    }\n")]
    assert (
        'location = /routes { content_by_lua_block { require("deis_routes").update() } }' in socket
    )
    assert main.count('deis_routes").update()') == 1


def test_the_static_pages_cannot_break_out_of_their_string_and_name_no_app():
    for page in pages.ALL:
        assert not set(page) & set('"\\$;{}')
        assert "]=]" not in page  # the Lua long strings `hosting.init_code` puts them in
    main = skeleton.render_main(options=OPTIONS, revision=7)
    assert 'location = /revision { return 200 "7"; }' in main
    assert "listen 127.0.0.1:9999;" in main
    assert "include" not in main  # no app has a file of its own
    assert "user " not in main  # not root: nginx runs workers as the agent


def test_the_main_file_serves_every_app_through_the_catch_all_servers():
    main = skeleton.render_main(options=OPTIONS, revision=7)
    catch_all = hosting.server_lines(OPTIONS, upstream=balancing.UPSTREAM)
    assert "\n".join(f"    {line}" for line in catch_all) in main
    assert main.count("proxy_pass http://deis-apps;") == 2  # HTTP and HTTPS
    assert main.count("server_name ~.;") == 1


def test_data_dir_paths_that_nginx_would_interpret_are_refused():
    paths = dataclasses.replace(OPTIONS.paths, pid=Path("/d/x;y"))
    hostile = dataclasses.replace(OPTIONS, paths=paths)
    with pytest.raises(UnsafeValue):
        skeleton.render_main(options=hostile, revision=1)
    tls = dataclasses.replace(OPTIONS, paths=dataclasses.replace(OPTIONS.paths, tls=Path("/d/t{")))
    with pytest.raises(UnsafeValue):  # the fallback certificate's path
        skeleton.render_main(options=tls, revision=1)


@pytest.mark.parametrize(
    ("entry", "rendered"),
    [
        ("10.0.0.0/8", "0a000000/8"),
        ("192.168.1.7", "c0a80107/32"),
        ("192.168.1.7/16", "c0a80000/16"),  # the network's address, as Lua compares it
        ("0.0.0.0/0", "00000000/0"),
        ("2001:db8::/32", "20010db8000000000000000000000000/32"),
        ("::1", "00000000000000000000000000000001/128"),
        ("fe80::1:2/64", "fe800000000000000000000000000000/64"),
    ],
)
def test_whitelist_entries_are_network_bytes_and_prefix(entry, rendered):
    assert rendering.whitelist_entry(entry) == rendered


@pytest.mark.parametrize(
    "entry",
    ["10.0.0.0/8,0.0.0.0/0", "10.0.0.0/8 0a", "all", "10.0.0.0/33", "::1/129", "fe80::1%eth0",
     "10.0.0.0/255.0.0.0", "10.0.0", "", "10.0.0.0/8\n", None],
)  # fmt: skip
def test_a_hostile_whitelist_entry_is_refused(entry):
    with pytest.raises(UnsafeValue):
        rendering.whitelist_entry(entry)


def test_the_body_sets_apps_sorted_with_their_certificates_and_removes_the_gone():
    web = rendering.render_app(routes=routes(certificates=[cert()]), options=OPTIONS)
    api = rendering.render_app(
        routes=routes(app="api", default_domain="api.deis.test"), options=OPTIONS
    )
    assert web is not None
    assert api is not None
    id_ = f"web/c-{digest(*PAIR)}"
    assert (
        rendering.body([web, api], gone=["old", "ancient"])
        == (
            "app api - - api.deis.test=-\n"
            f"cert {id_} {b64(PAIR[0])} {b64(PAIR[1])}\n"
            f"app web - - web.deis.test={id_}\n"
            "gone ancient\n"
            "gone old\n"
        ).encode()
    )
    assert rendering.body([]) == b""
    assert rendering.body([], gone=["web"]) == b"gone web\n"
    for hostile in ("web\napp evil", "web evil", "Web", ""):
        with pytest.raises(UnsafeValue):
            rendering.body([], gone=[hostile])
