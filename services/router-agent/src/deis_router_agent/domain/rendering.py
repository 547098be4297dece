"""Render one app's routing into the lines nginx's route table takes (`nginx/deis_routes.lua`).

`render_app` is the named security boundary of the router (with `safety`): it is the only
place where values from KV become what nginx serves by, and every one of them passes a
`safety` check first. Hostile-input tests live in `tests/domain/test_rendering.py`.

nginx's configuration names no app: two catch-all servers (`skeleton`) look every request's
host up in a shared dict the agent fills through its socket, so a domain, certificate,
whitelist or maintenance change is a few keys set, with no reload, whatever the number of
apps. Per routed app (routes absent, or `routable: false`: nothing, so its hosts answer 404):

    cert <app>/<name>-<digest> <base64 PEM chain> <base64 PEM key>       (per certificate)
    app <app> <flags> <whitelist> <domain>=<certificate or -> ...

flags: `m` maintenance, `e` HTTPS enforced, `-` neither; whitelist: `-`, or each network as
its address bytes in hex and its prefix length (`c0a80000/16`), which Lua compares with the
client's binary address. A domain served with a certificate is redirected to HTTPS when the
app enforces it, and answers with HSTS over HTTPS; one without is served over plain HTTP.
Each certificate is checked to be a pair (`keypairs`) before it is sent: a broken one is
refused for its app, naming it, and never reaches nginx.

When the router fronts the controller, its name (`deis.<platform domain>`, `platform`) is
dropped from every app's domains, certificates included: an app named `deis`, or one adding
that domain, can never take the platform's API (and its users' credentials) over. (Its own
server blocks would win anyway: exact names come before the catch-all's.)
"""

import base64
import hashlib
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field

from deis_router_agent.domain import keypairs, safety
from deis_router_agent.domain.options import Options
from deis_router_agent.errors import UnsafeValue
from deis_shared.kv import routes as routes_kv


@dataclass(frozen=True, slots=True)
class AppRoutes:
    """One app's lines for nginx's route table."""

    app: str
    line: str
    """`app <app> <flags> <whitelist> <domain>=<certificate> ...`."""
    certificates: dict[str, tuple[str, str]] = field(default_factory=dict)
    """Certificate id (`<app>/<name>-<digest>`) -> (PEM chain, PEM key)."""

    @property
    def domains(self) -> list[str]:
        """The domains served, in order."""
        return [token.partition("=")[0] for token in self.line.split()[4:]]

    def text(self) -> str:
        """The app's lines: its certificates first, then the app."""
        lines = [
            f"cert {id_} {_b64(chain)} {_b64(key)}\n"
            for id_, (chain, key) in sorted(self.certificates.items())
        ]
        return "".join(lines) + self.line + "\n"


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def resolve_domain(domain: str, *, platform_domain: str) -> str:
    """A custom domain as served: one without a dot is a label under the platform domain."""
    return domain if "." in domain else f"{domain}.{platform_domain}"


def _domains(routes: routes_kv.Routes, *, options: Options) -> list[str]:
    """The app's host names, without the controller's (never an app's)."""
    seen: dict[str, None] = {safety.domain(routes.default_domain): None}
    for domain in routes.domains:
        resolved = resolve_domain(safety.domain(domain), platform_domain=options.platform_domain)
        seen[safety.domain(resolved)] = None
    seen.pop(options.controller_domain or "", None)
    return list(seen)


def _certificates(
    app: str, routes: routes_kv.Routes, domains: Iterable[str], *, options: Options
) -> tuple[dict[str, str], dict[str, tuple[str, str]]]:
    """Per domain its certificate's id (the first certificate naming it wins), and the pairs.

    Raises:
        UnsafeValue: a certificate that serves a domain is not a good pair (it is named).
    """
    wanted = set(domains)
    served: dict[str, str] = {}
    pairs: dict[str, tuple[str, str]] = {}
    names: set[str] = set()
    for cert in routes.certificates:
        name = safety.name(cert.name)
        mine = []
        for domain in cert.domains:
            resolved = resolve_domain(
                safety.domain(domain), platform_domain=options.platform_domain
            )
            if resolved in wanted and resolved not in served and resolved not in mine:
                mine.append(resolved)
        if not mine or name in names:
            continue
        names.add(name)
        if not isinstance(cert.certificate, str) or not isinstance(cert.key, str):
            raise UnsafeValue(f"certificate {name} of app {app}: not PEM text")
        try:
            keypairs.load(cert.certificate.encode(), cert.key.encode())
        except (keypairs.BadPair, UnicodeError) as error:
            raise UnsafeValue(f"certificate {name} of app {app}: {error}") from error
        digest = hashlib.sha256(f"{cert.certificate}\0{cert.key}".encode()).hexdigest()[:16]
        id_ = f"{app}/{name}-{digest}"
        pairs[id_] = (cert.certificate, cert.key)
        served.update(dict.fromkeys(mine, id_))
    return served, pairs


def whitelist_entry(entry: str) -> str:
    """A whitelist entry as Lua compares it: network address bytes in hex, `/`, prefix length.

    Raises:
        UnsafeValue: not an IP address or network.
    """
    try:
        network = ipaddress.ip_network(safety.network(entry), strict=False)
    except ValueError as error:
        raise UnsafeValue(f"refusing whitelist entry {entry!r}") from error
    return f"{network.network_address.packed.hex()}/{network.prefixlen}"


def render_app(*, routes: routes_kv.Routes | None, options: Options) -> AppRoutes | None:
    """The app's lines for nginx, or None when the app is not routed (its endpoints: apart).

    Raises:
        UnsafeValue: a value failed its `safety` check, or a certificate is not a pair;
            nothing of the app is rendered.
    """
    if routes is None or not routes.routable:
        return None
    app = safety.app(routes.app)
    domains = _domains(routes, options=options)
    by_domain, pairs = _certificates(app, routes, domains, options=options)
    flags = ("m" if routes.maintenance else "") + ("e" if routes.https_enforced else "")
    whitelist = ",".join(whitelist_entry(entry) for entry in routes.whitelist) or "-"
    hosts = " ".join(f"{domain}={by_domain.get(domain, '-')}" for domain in domains)
    line = f"app {app} {flags or '-'} {whitelist} {hosts}"
    return AppRoutes(app=app, line=line, certificates=pairs)


def body(apps: Iterable[AppRoutes], *, gone: Iterable[str] = ()) -> bytes:
    """The request body setting these apps (and removing those `gone`)."""
    text = "".join(routes.text() for routes in sorted(apps, key=lambda item: item.app))
    text += "".join(f"gone {safety.app(app)}\n" for app in sorted(gone))
    return text.encode()
