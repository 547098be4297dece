"""Settings of the scheduler, read once from `DEIS_*` environment variables."""

import os
from pathlib import Path
from typing import Literal

from pydantic import Field

from deis_shared.sandbox import SYSTEM_PATH, UidTable
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

    app_uid_first: int = Field(default=200_000, gt=0)
    """The first user id given to an app; each app gets one of its own, kept in
    `<data_dir>/uids.json` (used when the scheduler runs as root)."""

    app_uid_count: int = Field(default=100_000, gt=0)
    """How many user ids apps may be given, from `app_uid_first` on."""

    max_app_processes: int = Field(default=1024, ge=16)
    """Processes and threads one app may have at once, across all its processes (its user
    id's `RLIMIT_NPROC`): a fork bomb stalls there."""

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


def app_uids(settings: SchedulerSettings) -> UidTable | None:
    """The user ids of apps when the scheduler is root; None: they run as the scheduler's."""
    if os.geteuid() != 0:
        return None
    return UidTable(
        settings.data_dir / "uids.json", first=settings.app_uid_first, count=settings.app_uid_count
    )


def process_base_environment() -> dict[str, str]:
    """What app processes get of the platform: the sandbox's PATH, and the locale and zone."""
    keep = ("LANG", "LC_ALL", "TZ")
    return {"PATH": SYSTEM_PATH} | {name: os.environ[name] for name in keep if name in os.environ}
