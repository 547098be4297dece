"""The platform's own services behind the router: the controller's API, the builder's SSH.

As Deis Workflow's router fronted them: the controller at `deis.<platform domain>` over HTTP
(and HTTPS with the platform's certificate), the builder's git-over-SSH on a TCP port.

Both are off unless their upstream is set (`DEIS_CONTROLLER_UPSTREAM`, `DEIS_BUILDER_UPSTREAM`;
one machine's platform reaches them directly):

    load_module "<modules>/ngx_stream_module.so";              (builder, when not built in)
    http {
        upstream deis-controller { server <host>:<port>; keepalive N; }
        server { listen <http>; server_name deis.<domain>; location / { proxy_pass ...; } }
        server { listen <https> ssl; server_name deis.<domain>;
                 ssl_certificate, ssl_certificate_key <data dir>/tls/_platform/deis.pem;
                 location / { proxy_pass ...; } }
        server { listen <https> ssl; server_name deis.<domain>; ssl_reject_handshake on; }
                                                                (no certificate)
    }
    stream {
        server { listen <builder port>; proxy_pass <host>:<port>; proxy_timeout ...; }
    }

The controller's servers inherit the apps' proxy settings from the `http` block: the
forwarding headers (`Host`, `X-Forwarded-For/-Proto/-Port`, `X-Request-Id`; the proto is
`https` on the HTTPS port), websocket upgrades, `client_max_body_size` and the long read
timeout that `deis run` and followed logs need. The platform's certificate
(`DEIS_PLATFORM_CERT_FILE`/`_KEY_FILE`, a Kubernetes TLS Secret on a cluster) is copied by
the agent into its data dir (`app.platform_tls`), so the paths here never change: a rotated
certificate is the same files with new content and a reload. Plain HTTP keeps answering on
the name unless `DEIS_PLATFORM_HTTPS_ENFORCED` redirects it (ACME challenges are answered
either way: `challenging`). Without a certificate the HTTPS
server only refuses the handshake. Either way an app's `*.<platform domain>` certificate
cannot answer for the controller's name (in nginx an exact name wins over every wildcard);
apps never render the name itself (`rendering` drops it from their domains). Debian builds
the stream module as a dynamic module (`libnginx-mod-stream`), loaded by absolute path:
nginx's prefix here is the agent's data dir, not `/usr/share/nginx`.
"""

from deis_router_agent.domain import challenging, safety, syntax
from deis_router_agent.domain.options import Options, Upstream

CONTROLLER_UPSTREAM = "deis-controller"
"""The controller's nginx upstream (apps' are `deis-app-<app>`: no clash)."""


def _address(upstream: Upstream) -> str:
    host = safety.host(upstream.host)
    port = safety.port(upstream.port)
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def main_lines(options: Options) -> list[str]:
    """Main-context lines: the stream module, when the builder is proxied and it is not built in."""
    if options.builder is None or options.stream_module is None:
        return []
    return [f"load_module {syntax.path(options.stream_module)};"]


def http_lines(options: Options) -> list[str]:
    """Lines inside `http { }`: the controller's upstream and servers, when it is served."""
    name = options.controller_domain
    if options.controller is None or name is None:
        return []
    name = safety.domain(name)
    http = syntax.listen(options.listen_address, options.http_port)
    https = syntax.listen(options.listen_address, options.https_port, "ssl")
    keepalive = [f"keepalive {options.upstream_keepalive};"] if options.upstream_keepalive else []
    proxy = f"location / {{ proxy_pass http://{CONTROLLER_UPSTREAM}; }}"
    tls = options.platform_tls
    if tls is None:
        secure = ["ssl_reject_handshake on;"]
    else:
        secure = [
            f"ssl_certificate {syntax.path(tls.certificate)};",
            f"ssl_certificate_key {syntax.path(tls.key)};",
            proxy,
        ]
    plain = proxy
    if tls is not None and options.platform_https_enforced:
        port = options.https_redirect_port
        suffix = "" if port == 443 else f":{port}"
        plain = f"location / {{ return 301 https://$host{suffix}$request_uri; }}"
    return [
        f"upstream {CONTROLLER_UPSTREAM} {{",
        f"    server {_address(options.controller)};",
        *(f"    {line}" for line in keepalive),
        "}",
        "server {",
        f"    {http}",
        f"    server_name {name};",
        *(f"    {line}" for line in challenging.server_lines()),
        f"    {plain}",
        "}",
        "server {",
        f"    {https}",
        f"    server_name {name};",
        *(f"    {line}" for line in secure),
        "}",
    ]


def stream_lines(options: Options) -> list[str]:
    """The `stream { }` block proxying TCP to the builder, when it is set."""
    if options.builder is None:
        return []
    listen = syntax.listen(options.listen_address, safety.port(options.builder_port))
    return [
        "stream {",
        "    server {",
        f"        {listen}",
        f"        proxy_pass {_address(options.builder)};",
        f"        proxy_connect_timeout {syntax.duration(options.proxy_connect_timeout)};",
        f"        proxy_timeout {syntax.duration(options.builder_proxy_timeout)};",
        "    }",
        "}",
    ]
