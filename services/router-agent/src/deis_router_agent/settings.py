"""Settings of the router agent, read once from `DEIS_*` environment variables."""

import os
import re
import socket
from pathlib import Path
from typing import Literal, Self

import pydantic
from pydantic import Field, field_validator, model_validator

from deis_shared.kv import hosts, routers as routers_kv
from deis_shared.settings import ServiceSettings, default_data_dir

_UPSTREAM = re.compile(
    r"(?:\[(?P<ipv6>[^\]]*)\]|(?P<host>[^\[\]]*)):(?P<port>[0-9]{1,5})", re.ASCII
)
_HOST: pydantic.TypeAdapter[str] = pydantic.TypeAdapter(hosts.Host)
_DOMAIN: pydantic.TypeAdapter[str] = pydantic.TypeAdapter(hosts.Domain)


def split_upstream(value: str) -> tuple[str, int]:
    """`host:port` (`[ipv6]:port`) as (host, port).

    The host is a lowercase host name or an IP address, the port 1-65535.

    Raises:
        ValueError: anything else, with a message saying what is expected.
    """
    expected = (
        f"{value!r} is not host:port (a lowercase host name or an IP address, a colon and a "
        "port 1-65535; an IPv6 address in brackets, as [fd00::1]:8000)"
    )
    found = _UPSTREAM.fullmatch(value)
    if found is None:
        raise ValueError(expected)
    host = found["host"] if found["ipv6"] is None else found["ipv6"]
    if found["ipv6"] is not None and ":" not in host:
        raise ValueError(expected)  # only IPv6 addresses go in brackets
    if found["ipv6"] is None and ":" in host:
        raise ValueError(expected)
    port = int(found["port"])
    try:
        _HOST.validate_python(host)
    except pydantic.ValidationError as error:
        raise ValueError(expected) from error
    if not 1 <= port <= 65535:
        raise ValueError(expected)
    return host, port


class RouterSettings(ServiceSettings):
    """The router agent's own fields on top of the shared ones."""

    service_name: str = "router-agent"
    """Name in logs and NATS connection names."""

    object_store: Literal["filesystem", "s3", "none"] = "none"
    """The router stores nothing: its configuration is derived from KV."""

    agent_name: str = Field(default_factory=socket.gethostname, min_length=1, max_length=253)
    """This router instance in `router.applied`/`router.rejected` events and its key in KV
    `routers` (host or pod name; unique among the platform's routers)."""

    data_dir: Path = Field(default_factory=lambda: default_data_dir() / "router")
    """nginx's prefix: rendered releases, the `current` symlink, pid, logs and temp files."""

    nginx_binary: str = "nginx"
    """The nginx executable (looked up in PATH, then /usr/sbin)."""

    nginx_user: str = "nobody"
    """User nginx workers run as when the agent runs as root (the master stays root: it reads
    the keys and binds the ports). Its temp directories are handed to it; if it cannot reach
    the data dir (say, under a 0700 home), workers run as root instead, with a warning. Empty:
    workers run as root."""

    platform_domain: str = "localhost"
    """Domain apps live under: a custom domain without a dot is a label under it."""

    listen_address: str = ""
    """Address nginx listens on for apps; empty means every IPv4 address."""

    http_port: int = Field(default=8080, ge=1, le=65535)
    """Port of plain HTTP (no root needed above 1023)."""

    https_port: int = Field(default=8443, ge=1, le=65535)
    """Port of HTTPS (TLS by SNI from the apps' certificates)."""

    https_redirect_port: int | None = Field(default=None, ge=1, le=65535)
    """Port clients reach HTTPS on, for `https_enforced` redirects; unset means `https_port`
    (different behind a load balancer mapping 443 to 8443)."""

    status_port: int = Field(default=0, ge=0, le=65535)
    """Port of the 127.0.0.1-only status server that answers the live revision; 0 picks one."""

    worker_processes: int = Field(default=1, ge=1, le=64)
    """nginx worker processes."""

    worker_connections: int = Field(default=4096, ge=64)
    """Connections per worker (client and upstream sides both count)."""

    worker_shutdown_timeout: float = Field(default=30.0, gt=0)
    """Seconds old workers keep serving their open connections (long polls, websockets) after
    a reload before they are closed; bounds how many old workers can pile up."""

    proxy_connect_timeout: float = Field(default=5.0, gt=0)
    """Seconds to open a connection to an app process."""

    proxy_read_timeout: float = Field(default=1200.0, gt=0)
    """Seconds between two reads from an app process (also the idle limit of websockets)."""

    proxy_send_timeout: float = Field(default=1200.0, gt=0)
    """Seconds between two writes to an app process."""

    client_max_body_size: int = Field(default=100, ge=0)
    """Largest request body in megabytes; 0 means unlimited."""

    keepalive_timeout: float = Field(default=75.0, ge=0)
    """Seconds an idle client connection stays open."""

    upstream_keepalive: int = Field(default=256, ge=0)
    """Idle connections to apps' processes kept per worker, all apps together (the least
    recently used go first); the controller's upstream keeps as many."""

    hsts_max_age: int = Field(default=15_724_800, ge=0)
    """`Strict-Transport-Security` max-age in seconds for apps with `https_enforced`."""

    access_log: bool = True
    """Write `logs/access.log` in the data dir."""

    heartbeat_seconds: float = Field(default=5.0, gt=0, le=3600)
    """How often the agent rewrites its key in KV `routers` when nothing changes; the
    scheduler counts a router gone after three missed beats (15 s by default: longer than an
    agent's restart, during which its nginx serves on, so that old processes wait for it)."""

    initial_sync_timeout: float = Field(default=5.0, gt=0)
    """Seconds to wait at start for both watches to deliver every key before nginx starts
    (with whatever has arrived, if they are not done by then)."""

    reload_timeout: float = Field(default=10.0, gt=0)
    """Seconds nginx has to start or reload before the attempt counts as failed."""

    restart_backoff_max: float = Field(default=30.0, gt=0)
    """Longest wait before restarting an nginx that died (doubling from 0.1 s)."""

    balancer_socket: Path | None = None
    """The Unix socket the agent sets apps' endpoints through (nginx's Lua balancer listens
    on it); its directory is made the agent's, mode 0700, so no other user reaches it. Unset:
    `<data_dir>/run/balancer.sock`. At most 107 bytes (a Unix socket address)."""

    keep_releases: int = Field(default=3, ge=2)
    """Rendered configurations kept on disk, the live one included."""

    metrics_interval: float = Field(default=10.0, gt=0)
    """Seconds between two readings of nginx's per-app request counters: each reading updates
    the agent's Prometheus metrics and publishes what every app was served since the last one
    (`deis.metrics.requests.<app>`)."""

    metrics_memory: int = Field(default=10, ge=1, le=1024)
    """Megabytes of nginx shared memory for the per-app request counters (about 2.5 KB an app;
    when full, the least recently used counters are dropped and start again from zero)."""

    routes_memory: int = Field(default=64, ge=1, le=4096)
    """Megabytes of nginx shared memory for the route table: every app's domains, options and
    certificates (about 300 bytes an app, plus 5 KB a certificate: 64 MB hold 10,000 apps
    with a certificate each). A change that does not fit is refused and reported."""

    controller_upstream: str | None = None
    """Where the controller's API listens (`host:port`, `[ipv6]:port`; say
    `deis-controller.deis.svc.cluster.local:8000`), for routers that front the platform as Deis
    Workflow's did. Set, nginx serves `deis.<platform_domain>` on the HTTP port by proxying to
    it (the apps' headers, body size and timeouts); no app can take that name. Over HTTPS too
    when `platform_cert_file` is set; otherwise TLS handshakes for the name are refused. A host
    name is resolved when nginx loads its configuration. Unset or empty: not served (`deisctl
    up` and compose reach the controller directly)."""

    platform_cert_file: Path | None = None
    """PEM certificate (leaf first, then its chain) for `deis.<platform_domain>`, served on the
    HTTPS port with `controller_upstream`; say a mounted `kubernetes.io/tls` Secret's `tls.crt`.
    The agent checks at start that it is readable and matches `platform_key_file`, and copies
    both into its data dir (mode 0600). Set with `platform_key_file` or not at all."""

    platform_key_file: Path | None = None
    """PEM private key of `platform_cert_file` (unencrypted; a Secret's `tls.key`)."""

    platform_cert_check_seconds: float = Field(default=60.0, gt=0)
    """Seconds between two reads of the platform certificate's files: when their content has
    changed (Kubernetes updates a mounted Secret in place) and the new pair is valid, it is
    copied and nginx reloaded; a bad pair is logged and the old one kept."""

    platform_https_enforced: bool = False
    """Redirect HTTP requests for `deis.<platform_domain>` to HTTPS (301); needs the platform
    certificate. Off: both serve the API (older clients registered with http:// still work)."""

    builder_upstream: str | None = None
    """Where the builder's git-over-SSH listens (`host:port`; say
    `deis-builder.deis.svc.cluster.local:2222`). Set, nginx proxies TCP from `builder_port` to
    it (nginx's stream module: Debian's `libnginx-mod-stream`). Unset or empty: no TCP proxy."""

    builder_port: int = Field(default=2222, ge=1, le=65535)
    """Port nginx accepts `git push` on (on `listen_address`) when `builder_upstream` is set."""

    builder_proxy_timeout: float = Field(default=1200.0, gt=0)
    """Seconds a connection to the builder may pass without a byte either way before nginx
    closes it: a push waits through its build and rollout. (A push open across a reload is
    closed after `worker_shutdown_timeout`, as every connection of old workers.)"""

    @field_validator(
        "controller_upstream",
        "builder_upstream",
        "platform_cert_file",
        "platform_key_file",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("controller_upstream", "builder_upstream")
    @classmethod
    def _host_and_port(cls, value: str | None, info: pydantic.ValidationInfo) -> str | None:
        if value is not None:
            try:
                split_upstream(value)
            except ValueError as error:
                raise ValueError(f"DEIS_{str(info.field_name).upper()}: {error}") from None
        return value

    @field_validator("agent_name")
    @classmethod
    def _agent_is_a_key(cls, value: str) -> str:
        routers_kv.key(value)  # ValueError: names the value
        return value

    @property
    def endpoints_socket(self) -> Path:
        """The balancer's socket, absolute."""
        path = self.balancer_socket or self.data_dir / "run" / "balancer.sock"
        return path.absolute()

    @model_validator(mode="after")
    def _socket_fits(self) -> Self:
        if len(str(self.endpoints_socket).encode()) > 107:
            raise ValueError(
                f"DEIS_BALANCER_SOCKET: {self.endpoints_socket} is longer than a Unix socket "
                "address can be (107 bytes); set DEIS_BALANCER_SOCKET to a shorter path"
            )
        return self

    @model_validator(mode="after")
    def _platform_services_fit(self) -> Self:
        if self.controller_upstream is not None:
            name = f"deis.{self.platform_domain}"
            try:
                _DOMAIN.validate_python(name)
            except pydantic.ValidationError:
                raise ValueError(
                    f"DEIS_CONTROLLER_UPSTREAM: the controller's name {name!r} is not a "
                    "lowercase host name (see DEIS_PLATFORM_DOMAIN)"
                ) from None
        self._platform_certificate_fits()
        if self.builder_upstream is not None:
            taken = {"http_port": self.http_port, "https_port": self.https_port}
            taken["status_port"] = self.status_port
            for field, port in taken.items():
                if self.builder_port == port:
                    raise ValueError(f"DEIS_BUILDER_PORT {port} is DEIS_{field.upper()} too")
        return self

    def _platform_certificate_fits(self) -> None:
        cert, key = self.platform_cert_file, self.platform_key_file
        if (cert is None) != (key is None):
            given, missing = ("CERT", "KEY") if key is None else ("KEY", "CERT")
            raise ValueError(
                f"DEIS_PLATFORM_{given}_FILE is set but DEIS_PLATFORM_{missing}_FILE is not: "
                "the platform certificate needs both files (or neither)"
            )
        if cert is not None and self.controller_upstream is None:
            raise ValueError(
                "DEIS_PLATFORM_CERT_FILE and DEIS_PLATFORM_KEY_FILE are set but "
                "DEIS_CONTROLLER_UPSTREAM is not: the certificate is for the controller's name, "
                "which this router serves only when it fronts the controller"
            )
        if self.platform_https_enforced and cert is None:
            raise ValueError(
                "DEIS_PLATFORM_HTTPS_ENFORCED needs DEIS_PLATFORM_CERT_FILE and "
                "DEIS_PLATFORM_KEY_FILE (there is nothing to redirect to without them)"
            )


def running_as_root() -> bool:
    """Whether the agent runs as root (nginx's `user` directive then matters)."""
    return os.geteuid() == 0
