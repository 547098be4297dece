"""End to end: automatic TLS from a real ACME server, its HTTP-01 challenges answered by the
router, the certificate served by SNI.

Pebble (Let's Encrypt's test server, Debian's `pebble`) validates for real here: its DNS
(`pebble-challtestsrv`) sends every name to 127.0.0.1 and its HTTP-01 port is the platform's
router, so a certificate is only issued when the router answers the challenge the controller's
issuer put in KV `challenges`. Through `deis` against `deisctl up --acme-directory ...`: add
two domains and enforce HTTPS (served over HTTP while no certificate exists), `deis
tls:auto:enable`, and both are issued; HTTPS by SNI then presents a certificate chaining to
Pebble's root, and HTTP redirects to it; a domain removed loses its certificate.
"""

import json
import socket
import ssl

import httpx
import pytest

from deis_testing.pebble import available

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.timeout(600),
    pytest.mark.skipif(not available(), reason="Debian's pebble is not installed"),
]


def _tls(developer, app: str) -> dict[str, object]:
    shown = developer.deis("tls:info", "-a", app, "--json").stdout
    value: dict[str, object] = json.loads(shown)
    return value


def _states(developer, app: str) -> dict[str, str]:
    statuses = _tls(developer, app).get("certs_auto_status") or []
    assert isinstance(statuses, list)
    return {entry["domain"]: entry["state"] for entry in statuses}


def _handshake(port: int, name: str, root: str) -> ssl.SSLSocket:
    context = ssl.create_default_context(cadata=root)
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    return context.wrap_socket(raw, server_hostname=name)


def test_domains_get_certificates_from_the_acme_server_and_are_served_by_sni(
    acme_platform, acme_developer, until, python_app
):
    pebble, platform = acme_platform
    developer = acme_developer
    app = f"{developer.username}-auto"
    copy = developer.checkout(app, python_app)
    developer.deis("create", app, cwd=copy)
    developer.push(copy)
    domains = [f"www.{app}.example.com", f"api.{app}.example.com"]
    for domain in domains:
        developer.deis("domains:add", domain, "-a", app)
    developer.deis("tls:enable", "-a", app)  # HTTPS enforced: but no certificate yet
    assert _http(platform, domains[0]).status_code == 200  # so served over HTTP meanwhile

    developer.deis("tls:auto:enable", "-a", app)
    until(lambda: _states(developer, app) == dict.fromkeys(domains, "issued"), seconds=120)

    root = pebble.root()
    for domain in domains:
        served = until(lambda domain=domain: _try_https(platform, domain, root), seconds=30)
        assert served.startswith("HTTP/1.1 200"), served
    redirected = until(lambda: _http(platform, domains[0]).status_code == 301, seconds=30)
    assert redirected
    location = _http(platform, domains[0]).headers["location"]
    assert location.startswith(f"https://{domains[0]}"), location
    certs = developer.deis("certs").stdout
    assert all(domain in certs for domain in domains), certs

    developer.deis("domains:remove", domains[1], "-a", app)
    until(lambda: domains[1] not in developer.deis("certs").stdout, seconds=60)
    assert _states(developer, app) == {domains[0]: "issued"}
    assert _try_https(platform, domains[0], root).startswith("HTTP/1.1 200")


def _http(platform, domain: str) -> httpx.Response:
    return httpx.get(
        f"http://127.0.0.1:{platform.http_port}/", headers={"Host": domain}, timeout=10
    )


def _try_https(platform, domain: str, root: str) -> str:
    """The status line of GET / over HTTPS by SNI `domain`, verified against `root`; "" if the
    handshake fails (no certificate for it yet, or one Pebble's root does not sign)."""
    try:
        with _handshake(platform.https_port, domain, root) as tls:
            tls.sendall(f"GET / HTTP/1.1\r\nHost: {domain}\r\nConnection: close\r\n\r\n".encode())
            return tls.recv(200).decode(errors="replace").partition("\r\n")[0]
    except (OSError, ssl.SSLError):
        return ""
