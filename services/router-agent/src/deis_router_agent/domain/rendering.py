"""Render one app's routing into its own nginx file: its HTTP and HTTPS servers.

`render_app` is the named security boundary of the router (with `safety`): it is the only
place where values from KV become configuration text, and every one of them passes a `safety`
check first. Hostile-input tests live in `tests/domain/test_rendering.py`.

Per app (routes absent, or `routable: false`: nothing at all, so the default server answers 404):

    geo $deis_allow_<app> { default 0; <whitelist> 1; }                    (if whitelisted)
    server { listen <http>; server_name <domains without a certificate>; <serve> }
    server { listen <http>; server_name <domains with one>; <serve, or 301 to https> }
    server { listen <https> ssl; server_name <a certificate's domains>; ssl_certificate ...;
             <HSTS if enforced>; <serve> }                                  (per certificate)

Each plain HTTP server starts with the ACME HTTP-01 answers (`challenging`), which skip the
rest for a challenge path. <serve> is, in order: 403 outside the whitelist, the 503
maintenance page, or the app's `location /`, where the Lua balancer answers the 503 "nothing
running" page when the app has no process and proxies to one of them otherwise (`balancing`:
every app shares one upstream).
The app's endpoints are not in the file: they reach nginx through the balancer's socket, so
the file changes only with the app's routes, and an endpoint change needs no reload. The
whitelist is a `geo` variable tested with `if` at server level (server rewrite phase), not
`allow`/`deny`: those run in the access phase, after `return`, and would let maintenance
pages and redirects skip the whitelist.

When the router fronts the controller, its name (`deis.<platform domain>`, `platform`) is
dropped from every app's domains, certificates included: an app named `deis`, or one adding
that domain, can never take the platform's API (and its users' credentials) over.

Certificates are written content-addressed under `tls/<app>/` (outside every release and
every served path, mode 0600), so an unchanged app's file is the same across releases and an
nginx error naming a path pins the app.
"""

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from deis_router_agent.domain import balancing, challenging, metering, pages, safety, syntax
from deis_router_agent.domain.options import Options
from deis_shared.kv import routes as routes_kv


@dataclass(frozen=True, slots=True)
class AppConfig:
    """One app's rendered file and the TLS files it refers to."""

    app: str
    text: str
    """Contents of `apps/<app>.conf`."""
    tls_files: dict[Path, str] = field(default_factory=dict)
    """Absolute path under the TLS directory -> contents (PEM), written with mode 0600."""


def resolve_domain(domain: str, *, platform_domain: str) -> str:
    """A custom domain as served: one without a dot is a label under the platform domain."""
    return domain if "." in domain else f"{domain}.{platform_domain}"


def _quoted(page: str) -> str:
    return f'"{page}"'


def _serve_lines(*, app: str, routes: routes_kv.Routes, redirect: str | None) -> list[str]:
    lines: list[str] = []
    if routes.whitelist:
        lines.append(f"if ($deis_allow_{app.replace('-', '_')} = 0) {{ return 403; }}")
    if redirect is not None:
        lines.append(f"return 301 {redirect};")
    elif routes.maintenance:
        lines.append(f"return 503 {_quoted(pages.MAINTENANCE)};")
    else:
        lines.append(balancing.location_line(app))
    return lines


def _server(app: str, head: list[str], body: list[str]) -> list[str]:
    lines = (*head, metering.server_line(app), *body)
    return ["server {", *(f"    {line}" for line in lines), "}"]


def _domains(routes: routes_kv.Routes, *, options: Options) -> tuple[list[str], str | None]:
    """The app's server names, and the controller's name if the app asked for it (dropped)."""
    seen: dict[str, None] = {safety.domain(routes.default_domain): None}
    for domain in routes.domains:
        resolved = resolve_domain(safety.domain(domain), platform_domain=options.platform_domain)
        seen[safety.domain(resolved)] = None
    reserved = options.controller_domain
    if reserved is None or reserved not in seen:
        return list(seen), None
    del seen[reserved]
    return list(seen), reserved


def _certificates(
    app: str, routes: routes_kv.Routes, domains: Iterable[str], *, options: Options
) -> tuple[dict[str, list[str]], dict[str, tuple[Path, Path]], dict[Path, str]]:
    """Which domains each certificate serves (first certificate wins a domain), its files."""
    wanted = set(domains)
    served: dict[str, list[str]] = {}
    paths: dict[str, tuple[Path, Path]] = {}
    files: dict[Path, str] = {}
    taken: set[str] = set()
    for cert in routes.certificates:
        name = safety.name(cert.name)
        mine = []
        for domain in cert.domains:
            resolved = resolve_domain(
                safety.domain(domain), platform_domain=options.platform_domain
            )
            if resolved in wanted and resolved not in taken:
                taken.add(resolved)
                mine.append(resolved)
        if not mine or name in served:
            continue
        digest = hashlib.sha256(f"{cert.certificate}\0{cert.key}".encode()).hexdigest()[:16]
        base = options.paths.tls / app / f"{name}-{digest}"
        crt, key = base.with_suffix(".crt"), base.with_suffix(".key")
        served[name], paths[name] = mine, (crt, key)
        files[crt], files[key] = cert.certificate, cert.key
    return served, paths, files


def render_app(*, routes: routes_kv.Routes | None, options: Options) -> AppConfig | None:
    """The nginx file of one app, or None when the app is not routed (its endpoints: apart).

    Raises:
        UnsafeValue: a value failed its `safety` check; nothing of the app is rendered.
    """
    if routes is None or not routes.routable:
        return None
    app = safety.app(routes.app)
    domains, reserved = _domains(routes, options=options)
    by_cert, cert_paths, tls_files = _certificates(app, routes, domains, options=options)
    secure = [d for names in by_cert.values() for d in names]
    plain = [d for d in domains if d not in secure]

    lines = [f"# app {app}"]
    if reserved is not None:
        lines.append(f"# {reserved} is the controller's: not served for this app")
    if routes.whitelist:
        lines.append(f"geo $deis_allow_{app.replace('-', '_')} {{")
        lines.append("    default 0;")
        lines.extend(f"    {safety.network(entry)} 1;" for entry in routes.whitelist)
        lines.append("}")
    http = syntax.listen(options.listen_address, options.http_port)
    https = syntax.listen(options.listen_address, options.https_port, "ssl")
    serve = _serve_lines(app=app, routes=routes, redirect=None)
    acme = challenging.server_lines()  # first: before the whitelist, redirect, maintenance
    if plain:
        lines.extend(_server(app, [http, f"server_name {' '.join(plain)};", *acme], serve))
    if secure:
        redirect = None
        if routes.https_enforced:
            port = options.https_redirect_port
            suffix = "" if port == 443 else f":{port}"
            redirect = f"https://$host{suffix}$request_uri"
        insecure = _serve_lines(app=app, routes=routes, redirect=redirect)
        lines.extend(_server(app, [http, f"server_name {' '.join(secure)};", *acme], insecure))
    for name, names in by_cert.items():
        crt, key = cert_paths[name]
        head = [https, f"server_name {' '.join(names)};"]
        head += [f"ssl_certificate {syntax.path(crt)};", f"ssl_certificate_key {syntax.path(key)};"]
        if routes.https_enforced:
            hsts = f"max-age={options.hsts_max_age}"
            head.append(f'add_header Strict-Transport-Security "{hsts}" always;')
        lines.extend(_server(app, head, serve))
    return AppConfig(app=app, text="\n".join(lines) + "\n", tls_files=tls_files)
