"""Where the builder and the apps are, derived from the controller's URL (docs/api.md §4).

Deis's rule: the builder is the controller's host with `-builder` appended to its first label,
port 2222 (`deis.10.0.0.1.nip.io` → `deis-builder.10.0.0.1.nip.io`), and an app's default domain
(its id, no dots) is served at the controller's host with the first label replaced by the app id.
On a one-machine platform the controller is `localhost`, `*.localhost` or an IP literal: ssh
cannot resolve `*.localhost`, so the builder is `127.0.0.1` (or that IP), and apps are served at
`http://<app>.localhost:<router port>`. `$DEIS_BUILDER_URL` and `$DEIS_ROUTER_URL` override both.
"""

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

from deis_cli import errors

BUILDER_PORT = 2222
"""Deis's builder SSH port."""

ROUTER_PORT = 8080
"""The router's port on a one-machine platform."""


@dataclass(frozen=True)
class Builder:
    """The builder's SSH address."""

    host: str
    port: int

    def remote_url(self, app: str) -> str:
        """The git remote URL for `app`."""
        return f"ssh://git@{self.host}:{self.port}/{app}.git"


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def is_local(host: str) -> bool:
    """Whether `host` names this machine in a way ssh and DNS may not resolve per app."""
    return host == "localhost" or host.endswith(".localhost") or _is_ip(host)


def controller_host(controller: str) -> str:
    """The controller URL's host name, without port or brackets.

    Raises:
        InvalidInput: The URL has no host.
    """
    host = urlsplit(controller).hostname
    if not host:
        raise errors.InvalidInput(f"the controller URL {controller!r} has no host")
    return host


def builder(controller: str, override: str | None = None) -> Builder:
    """The builder for `controller`, or the one `override` (`ssh://git@host:port`) names."""
    if override:
        parts = urlsplit(override if "://" in override else f"ssh://{override}")
        if not parts.hostname:
            raise errors.InvalidInput(f"DEIS_BUILDER_URL {override!r} has no host")
        return Builder(host=parts.hostname, port=parts.port or BUILDER_PORT)
    host = controller_host(controller)
    if host == "localhost" or host.endswith(".localhost"):
        return Builder(host="127.0.0.1", port=BUILDER_PORT)
    if _is_ip(host):
        return Builder(host=host, port=BUILDER_PORT)
    first, _, rest = host.partition(".")
    return Builder(host=".".join(filter(None, [f"{first}-builder", rest])), port=BUILDER_PORT)


def app_url(*, controller: str, domain: str, router: str | None = None) -> str:
    """The URL people open for an app's `domain`.

    A domain with dots is a real host name, served by the router on port 80. A dot-less one is
    the app's default domain, qualified as described in the module docstring.
    """
    if "." in domain:
        return f"http://{domain}"
    if router:
        parts = urlsplit(router)
        host = parts.hostname or "localhost"
        scheme = parts.scheme or "http"
        suffix = "localhost" if is_local(host) else host
        port = f":{parts.port}" if parts.port else ""
        return f"{scheme}://{domain}.{suffix}{port}"
    parts = urlsplit(controller)
    host = controller_host(controller)
    if is_local(host):
        return f"http://{domain}.localhost:{ROUTER_PORT}"
    _, _, rest = host.partition(".")
    return f"{parts.scheme or 'http'}://{domain}.{rest}" if rest else f"http://{domain}"
