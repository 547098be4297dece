"""What the local backend's use cases share: the host's slugs, records, cgroups and users."""

from collections.abc import Mapping
from dataclasses import dataclass

from deis_scheduler.app.context import Context
from deis_scheduler.app.routers import RouterSet
from deis_scheduler.app.shipping import LogShipper
from deis_scheduler.local.cgroups import CpuControl
from deis_scheduler.local.records import Records
from deis_scheduler.local.slugs import SlugCache
from deis_shared.sandbox import UidTable


@dataclass(frozen=True)
class LocalContext(Context):
    """The shared context, plus what running processes on this host takes."""

    slugs: SlugCache
    records: Records
    """What runs on this host, for a restarted scheduler to adopt."""
    cpu: CpuControl | None
    """Where CPU limits are applied; `None` where this host does not allow it."""
    shipper: LogShipper
    base_env: Mapping[str, str]
    """What every app process inherits (`settings.process_base_environment()`)."""
    uids: UidTable | None
    """The user ids of apps (`settings.app_uids(...)`); None: apps run as the scheduler's."""
    routers: RouterSet
    """The live routers: old processes stop once every one serves the endpoints without them."""
