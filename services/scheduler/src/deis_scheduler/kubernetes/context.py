"""What the Kubernetes backend's use cases share: the API client, the watch cache, the log."""

from collections.abc import Mapping
from dataclasses import dataclass

from deis_scheduler.app.context import Context
from deis_scheduler.app.reporting import AppLog
from deis_scheduler.kubernetes.cache import Cache
from deis_scheduler.kubernetes.client import Kube


@dataclass(frozen=True)
class KubeContext(Context):
    """The shared context, plus the cluster."""

    kube: Kube
    cache: Cache
    log: AppLog
    """The apps' logs, for the scheduler's own lines (pods' lines come by Fluent Bit)."""
    store: Mapping[str, str]
    """The object store's settings the slug runner fetches slugs with (`DEIS_*` variables)."""
