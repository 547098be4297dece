# mypy: allow-untyped-defs, allow-untyped-calls, allow-incomplete-defs
"""The controller's server and the builder's stream block: rendered only when set, and no app
can take the controller's name."""

import dataclasses
from pathlib import Path

import pytest

from deis_router_agent.domain import challenging, keypairs, rendering, skeleton
from deis_router_agent.domain.options import Options, Paths, Upstream
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
CONTROLLER = Upstream(host="deis-controller.deis.svc.cluster.local", port=8000)
BUILDER = Upstream(host="10.0.0.7", port=2223)
STREAM_SO = Path("/usr/lib/nginx/modules/ngx_stream_module.so")
FRONTING = dataclasses.replace(
    OPTIONS, controller=CONTROLLER, builder=BUILDER, stream_module=STREAM_SO
)


def main(options):
    return skeleton.render_main(options=options, revision=3)


def blocks(text, head):
    """Every block of `text` whose first line is `head`, as the list of its lines."""
    found, lines = [], text.splitlines()
    for start, line in enumerate(lines):
        if line.strip() == head:
            depth, block = 0, []
            for inner in lines[start:]:
                block.append(inner.strip())
                depth += inner.count("{") - inner.count("}")
                if depth == 0:
                    break
            found.append(block)
    return found


def test_by_default_neither_the_controller_nor_the_builder_is_rendered():
    text = main(OPTIONS)
    assert "deis-controller" not in text
    assert "server_name deis.deis.test;" not in text
    assert "stream {" not in text
    assert "load_module" not in text
    assert "2222" not in text


def test_the_controller_is_served_at_its_exact_name_over_http():
    text = main(dataclasses.replace(OPTIONS, controller=CONTROLLER))
    assert [
        "upstream deis-controller {",
        "server deis-controller.deis.svc.cluster.local:8000;",
        "keepalive 256;",
        "}",
    ] in blocks(text, "upstream deis-controller {")
    servers = [b for b in blocks(text, "server {") if "server_name deis.deis.test;" in b]
    assert servers == [
        ["server {", "listen 8080;", "server_name deis.deis.test;",
         *challenging.server_lines(),  # ACME answers: test_challenging
         "location / { proxy_pass http://deis-controller; }", "}"],
        ["server {", "listen 8443 ssl;", "server_name deis.deis.test;",
         "ssl_reject_handshake on;", "}"],
    ]  # fmt: skip
    # The proxy settings it inherits: the same http-level ones the apps get.
    for line in (
        "proxy_set_header Host $host;",
        "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
        "proxy_set_header X-Forwarded-Proto $scheme;",
        "proxy_set_header X-Forwarded-Port $server_port;",
        "proxy_set_header X-Request-Id $request_id;",
        "client_max_body_size 100m;",
        "proxy_read_timeout 1200000ms;",
    ):
        assert f"    {line}\n" in text
    assert "stream {" not in text
    assert "load_module" not in text


def test_the_builder_gets_a_stream_block_and_the_module_loaded_first():
    text = main(dataclasses.replace(OPTIONS, builder=BUILDER, stream_module=STREAM_SO))
    lines = text.splitlines()
    assert lines[1] == 'load_module "/usr/lib/nginx/modules/ngx_stream_module.so";'
    assert blocks(text, "stream {") == [[
        "stream {",
        "server {",
        "listen 2222;",
        "proxy_pass 10.0.0.7:2223;",
        "proxy_connect_timeout 5000ms;",
        "proxy_timeout 1200000ms;",
        "}",
        "}",
    ]]  # fmt: skip
    assert lines.index("stream {") > lines.index("http {")
    assert "deis-controller" not in text


def test_the_stream_block_follows_its_settings_and_a_built_in_module_is_not_loaded():
    options = dataclasses.replace(
        OPTIONS,
        listen_address="10.1.2.3",
        builder=Upstream(host="fd00::7", port=2222),
        builder_port=22,
        builder_proxy_timeout=3600,
        proxy_connect_timeout=2.5,
    )
    text = main(options)
    assert "load_module" not in text
    (stream,) = blocks(text, "stream {")
    assert "listen 10.1.2.3:22;" in stream
    assert "proxy_pass [fd00::7]:2222;" in stream
    assert "proxy_timeout 3600000ms;" in stream
    assert "proxy_connect_timeout 2500ms;" in stream


def test_both_together():
    text = main(FRONTING)
    assert text.count("load_module") == 1
    assert len(blocks(text, "stream {")) == 1
    assert len(blocks(text, "upstream deis-controller {")) == 1


@pytest.mark.parametrize(
    "options",
    [
        dataclasses.replace(OPTIONS, controller=Upstream(host="ctl; return 200", port=80)),
        dataclasses.replace(OPTIONS, controller=Upstream(host="ctl", port=0)),
        dataclasses.replace(OPTIONS, builder=Upstream(host="$host", port=22)),
        dataclasses.replace(OPTIONS, builder=Upstream(host="b", port=2222), builder_port=70000),
        dataclasses.replace(OPTIONS, controller=CONTROLLER, platform_domain="x y"),
    ],
)
def test_unsafe_platform_values_never_reach_the_text(options):
    with pytest.raises(UnsafeValue):
        main(options)


def routes(app="deis", domains=(), certificates=()):
    return routes_kv.Routes(
        app=app,
        default_domain=f"{app}.deis.test",
        domains=list(domains),
        certificates=list(certificates),
        whitelist=[],
        https_enforced=False,
        maintenance=False,
        routable=True,
    )


def pair():
    """A real (certificate PEM, key PEM) pair: `keypairs.self_signed` writes the key first."""
    text = keypairs.self_signed("web.deis.test")
    start = text.index("-----BEGIN CERTIFICATE-----")
    return text[start:], text[:start]


def certificate(*domains):
    crt, key = pair()
    return routes_kv.Certificate(name="c", domains=list(domains), certificate=crt, key=key)


def test_an_app_never_serves_the_controllers_name():
    owner = routes(app="deis", domains=["www.example.com"])
    config = rendering.render_app(routes=owner, options=FRONTING)
    assert config is not None
    assert config.domains == ["www.example.com"]
    assert config.line == "app deis - - www.example.com=-"

    squatter = routes(
        app="squat",
        domains=["deis", "deis.deis.test", "*.deis.test"],
        certificates=[certificate("deis.deis.test", "*.deis.test")],
    )
    config = rendering.render_app(routes=squatter, options=FRONTING)
    assert config is not None
    assert "deis.deis.test" not in config.domains
    assert "deis.deis.test" not in config.text()
    # The wildcard stays: an exact name wins over it in nginx (the controller's own servers,
    # on HTTP and HTTPS, come before the catch-all's `server_name ~.;`).
    assert config.domains == ["squat.deis.test", "*.deis.test"]
    (id_,) = config.certificates
    assert config.line == f"app squat - - squat.deis.test=- *.deis.test={id_}"
    controller = [
        b for b in blocks(main(FRONTING), "server {") if "server_name deis.deis.test;" in b
    ]
    assert len(controller) == 2


def test_without_the_controller_an_app_may_have_the_name():
    config = rendering.render_app(routes=routes(app="deis"), options=OPTIONS)
    assert config is not None
    assert config.domains == ["deis.deis.test"]
    assert config.line == "app deis - - deis.deis.test=-"
