"""Settings of the router agent, read once from `DEIS_*` environment variables."""

import os
import socket
from pathlib import Path
from typing import Literal

from pydantic import Field

from deis_shared.settings import ServiceSettings, default_data_dir


class RouterSettings(ServiceSettings):
    """The router agent's own fields on top of the shared ones."""

    service_name: str = "router-agent"
    """Name in logs and NATS connection names."""

    object_store: Literal["filesystem", "s3", "none"] = "none"
    """The router stores nothing: its configuration is derived from KV."""

    agent_name: str = Field(default_factory=socket.gethostname, min_length=1, max_length=253)
    """This router instance in `router.applied`/`router.rejected` events (host or pod name)."""

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

    upstream_keepalive: int = Field(default=16, ge=0)
    """Idle connections to each app's processes kept per worker."""

    hsts_max_age: int = Field(default=15_724_800, ge=0)
    """`Strict-Transport-Security` max-age in seconds for apps with `https_enforced`."""

    access_log: bool = True
    """Write `logs/access.log` in the data dir."""

    debounce_seconds: float = Field(default=0.02, ge=0)
    """Quiet time after a change before rendering: a burst of changes becomes one reload."""

    max_delay_seconds: float = Field(default=0.2, gt=0)
    """Longest a change waits for the burst around it to end."""

    initial_sync_timeout: float = Field(default=5.0, gt=0)
    """Seconds to wait at start for both watches to deliver every key before nginx starts
    (with whatever has arrived, if they are not done by then)."""

    reload_timeout: float = Field(default=10.0, gt=0)
    """Seconds nginx has to start or reload before the attempt counts as failed."""

    restart_backoff_max: float = Field(default=30.0, gt=0)
    """Longest wait before restarting an nginx that died (doubling from 0.1 s)."""

    keep_releases: int = Field(default=3, ge=2)
    """Rendered configurations kept on disk, the live one included."""


def running_as_root() -> bool:
    """Whether the agent runs as root (nginx's `user` directive then matters)."""
    return os.geteuid() == 0
