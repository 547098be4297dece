"""Everything the rendering needs besides the apps: ports, limits and the paths of nginx's files.

Built once from the settings (`app.context`), so the rendering stays a pure function of its
arguments and is tested without a settings object or a filesystem.
"""

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Paths:
    """Where nginx keeps its runtime files (all absolute, all in the agent's data dir)."""

    pid: Path
    logs: Path
    temp: Path
    tls: Path
    """Certificates and keys, content-addressed per app (mode 0700, files 0600)."""
    lua: Path
    """The directory holding the balancer's Lua module (`deis_balancer.lua`)."""
    balancer_socket: Path
    """The Unix socket nginx takes endpoints on (in a 0700 directory of the agent's)."""


CONTROLLER_LABEL = "deis"
"""The controller is served at `deis.<platform domain>`, as in Deis Workflow."""


@dataclass(frozen=True, slots=True)
class Upstream:
    """A platform service behind the router: where it listens."""

    host: str
    """A host name or an IP address (IPv6 without brackets)."""
    port: int


@dataclass(frozen=True, slots=True)
class KeyPair:
    """A certificate (its chain) and its private key, as PEM files nginx reads."""

    certificate: Path
    key: Path


@dataclass(frozen=True, slots=True)
class Options:
    """How the router serves: the global part of the configuration."""

    paths: Paths
    platform_domain: str
    listen_address: str
    http_port: int
    https_port: int
    https_redirect_port: int
    status_port: int
    worker_user: str | None
    """`user` directive of the workers; None leaves the directive out (not root)."""
    worker_processes: int = 1
    worker_connections: int = 4096
    worker_shutdown_timeout: float = 30.0
    proxy_connect_timeout: float = 5.0
    proxy_read_timeout: float = 1200.0
    proxy_send_timeout: float = 1200.0
    client_max_body_size: int = 100
    """Megabytes; 0 is unlimited."""
    keepalive_timeout: float = 75.0
    upstream_keepalive: int = 256
    hsts_max_age: int = 15_724_800
    access_log: bool = True
    controller: Upstream | None = None
    """The controller's API, served at `controller_domain` over HTTP; None: not served."""
    platform_tls: KeyPair | None = None
    """The platform's certificate: `controller_domain` is served over HTTPS too; None: its
    handshakes are refused."""
    platform_https_enforced: bool = False
    """With `platform_tls`: HTTP requests for `controller_domain` are redirected to HTTPS."""
    builder: Upstream | None = None
    """The builder's SSH, proxied from `builder_port` (nginx's stream module); None: not."""
    builder_port: int = 2222
    builder_proxy_timeout: float = 1200.0
    stream_module: Path | None = None
    """The stream module's file, loaded when the builder is proxied; None: built in."""
    lua_modules: tuple[Path, ...] = ()
    """The Lua module's files (and the NDK's it needs) to load; empty: built in."""
    metrics_memory: int = 10
    """Megabytes of nginx's shared dict of per-app request counters (`metering`)."""
    routes_memory: int = 64
    """Megabytes of nginx's route table (`hosting`): apps' domains, options, certificates."""

    @property
    def controller_domain(self) -> str | None:
        """The controller's host name when it is served; no app may serve it."""
        if self.controller is None:
            return None
        return f"{CONTROLLER_LABEL}.{self.platform_domain}"
