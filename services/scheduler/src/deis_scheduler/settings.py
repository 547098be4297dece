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

    backend: Literal["local", "kubernetes"] = "local"
    """Where processes run: `local` (this host) or `kubernetes` (a cluster, `kube_*`)."""

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
    """Seconds old processes keep serving once every live router serves the `endpoints` that
    left them out, so that requests in flight to them finish before they stop."""

    router_wait_seconds: float = Field(default=30.0, ge=0)
    """Longest wait for every live router to serve new `endpoints` before old processes stop
    anyway (the app's log says which routers were behind). Local backend only: on
    Kubernetes, routers send to the app's Service, which a release does not change."""

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

    # The `kubernetes` backend's own.

    kube_config: Path | None = None
    """A kubeconfig file; unset: the pod's in-cluster service account."""

    kube_context: str | None = None
    """The kubeconfig context to use; unset: its current one."""

    kube_runner_image: str = "deis/slugrunner:dev"
    """The slug runner's image: it fetches the slug, unpacks it and runs the process type."""

    kube_image_pull_policy: Literal["Always", "IfNotPresent", "Never"] = "IfNotPresent"
    """Pull policy of app containers."""

    kube_progress_deadline: int = Field(default=120, ge=10)
    """`progressDeadlineSeconds` of each Deployment: a rollout slower than this fails."""

    kube_revision_history: int = Field(default=10, ge=1)
    """`revisionHistoryLimit` of each Deployment: the releases a rollback can return to."""

    kube_termination_grace: int = Field(default=30, ge=0)
    """`terminationGracePeriodSeconds` of app pods."""

    kube_run_as_user: int = Field(default=1000, ge=1)
    """The user id slug runner containers run as (never root)."""

    kube_platform_namespace: str = "deis"
    """The platform's own namespace, which app pods may not reach."""

    kube_router_labels: dict[str, str] = Field(default_factory=lambda: {"app": "deis-router"})
    """Labels of the router pods (in the platform's namespace), the only ones let into apps."""

    kube_object_store_labels: dict[str, str] = Field(
        default_factory=lambda: {"app": "deis-object-store"}
    )
    """Labels of the platform's object store pods, which slug runners fetch slugs from."""

    kube_app_node_selector: dict[str, str] = Field(default_factory=dict)
    """Node labels every app pod must match (the data plane's nodes), beside the app's tags."""

    kube_app_tolerations: list[dict[str, str | int]] = Field(default_factory=list)
    """Tolerations of every app pod (Kubernetes' shape: key, operator, value, effect,
    tolerationSeconds): what lets apps onto a data plane's tainted nodes."""

    kube_private_cidrs: list[str] = Field(
        default_factory=lambda: ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]
    )
    """Address ranges app pods reach only through namespaces (the cluster's own networks)."""

    kube_cluster_domain: str = "cluster.local"
    """The cluster's DNS domain, in the Services' names the router is given."""

    kube_service_port: int = Field(default=80, ge=1, le=65535)
    """The port of each app's Service."""

    kube_watch_seconds: int = Field(default=300, ge=1)
    """How long one watch request lasts before it is made again."""


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
