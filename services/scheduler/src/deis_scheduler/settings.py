"""Settings of the scheduler, read once from `DEIS_*` environment variables."""

import os
from pathlib import Path
from typing import Literal

from pydantic import Field

from deis_shared.settings import ServiceSettings, default_data_dir


class SchedulerSettings(ServiceSettings):
    """The scheduler's own fields on top of the shared ones."""

    service_name: str = "scheduler"
    """Name in logs and NATS connection names."""

    backend: Literal["local"] = "local"
    """Where processes run: `local` (this host). The Kubernetes backend comes later."""

    data_dir: Path = Field(default_factory=lambda: default_data_dir() / "scheduler")
    """Slug cache and unpacked releases."""

    process_host: str = "127.0.0.1"
    """Address app processes are reached at; the `host` of their endpoints."""

    process_user: str = "nobody"
    """User app processes run as when the scheduler runs as root; empty runs them as root too
    (only sensible where every interpreter they need lives under a root-only directory)."""

    deploy_timeout: float = Field(default=120.0, gt=0)
    """Seconds a new release's processes have to become healthy before the rollout fails."""

    drain_seconds: float = Field(default=2.0, ge=0)
    """Seconds old processes keep serving after `endpoints` moved on, so that the router has
    switched before they stop (requests in flight to them finish)."""

    stop_grace: float = Field(default=10.0, ge=0)
    """Seconds between SIGTERM and SIGKILL when a process is stopped."""

    settle_seconds: float = Field(default=0.5, ge=0)
    """Seconds a new non-web process must stay up for its rollout to count as healthy."""

    restart_backoff_max: float = Field(default=60.0, gt=0)
    """Longest wait before restarting a crashed process (doubling from 1 s)."""

    resync_interval: float = Field(default=30.0, gt=0)
    """Seconds between full reconciles of every app, whatever the watch says."""

    log_buffer_lines: int = Field(default=10_000, ge=100)
    """Log lines held while NATS is slow or away; beyond it lines are dropped and counted."""

    cgroup_root: Path | None = Path("/sys/fs/cgroup")
    """Where the control groups are mounted, for CPU limits; unset applies none."""

    stop_processes_on_exit: bool = False
    """Whether app processes stop with the scheduler. By default they run on, and the next
    scheduler adopts them: restarting or upgrading the scheduler costs the apps nothing."""

    last_lines: int = Field(default=20, ge=0, le=200)
    """Log lines per process kept for a failed deploy's report."""


def process_run_as(settings: SchedulerSettings) -> str | None:
    """The user app processes run as: `process_user` when root, else the scheduler's own."""
    if os.geteuid() != 0:
        return None
    return settings.process_user or None


def process_base_environment() -> dict[str, str]:
    """What app processes inherit from the scheduler: PATH, locale and temp dir only."""
    keep = ("PATH", "LANG", "LC_ALL", "TZ", "TMPDIR")
    return {name: os.environ[name] for name in keep if name in os.environ}
