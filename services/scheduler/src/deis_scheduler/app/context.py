"""What the scheduler's use cases share: settings and the clients the service runner opened."""

from collections.abc import Mapping
from dataclasses import dataclass

import nats.js

from deis_scheduler.local.cgroups import CpuControl
from deis_scheduler.local.records import Records
from deis_scheduler.local.shipping import LogShipper
from deis_scheduler.local.slugs import SlugCache
from deis_scheduler.settings import SchedulerSettings
from deis_shared.sandbox import UidTable


@dataclass(frozen=True)
class Context:
    """The scheduler's settings and clients, handed to every use case."""

    settings: SchedulerSettings
    js: nats.js.JetStreamContext
    slugs: SlugCache
    records: Records
    cpu: CpuControl | None
    """Where CPU limits are applied; `None` where this host does not allow it."""
    """What runs on this host, for a restarted scheduler to adopt."""
    shipper: LogShipper
    base_env: Mapping[str, str]
    """What every app process inherits (`settings.process_base_environment()`)."""
    uids: UidTable | None
    """The user ids of apps (`settings.app_uids(...)`); None: apps run as the scheduler's."""
