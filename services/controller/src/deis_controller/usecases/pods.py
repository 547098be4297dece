"""An app's pods (`deis ps`): read from the scheduler's `procs` KV value (docs/api.md §2.6).

The scheduler writes every process of an app, with its state, under key `<app>` of bucket
`procs`; this module keeps the processes `deis ps` shows: those of the latest non-failed
release, neither one-off (`run`) nor gone (`down`, `crashed`, `destroyed`), newest first.

Restarting is `restarts`' concern.
"""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from deis_controller import errors
from deis_controller.domain.formats import timestamp
from deis_controller.usecases.context import Context
from deis_controller.usecases.records import AppAccess
from deis_shared.bus import connection, errors as bus_errors, kv
from deis_shared.kv import procs as procs_kv

logger = logging.getLogger(__name__)

HIDDEN_TYPES = frozenset({"run"})
"""One-off processes of `deis run` are not pods of the app's formation."""

HIDDEN_STATES = frozenset(
    {procs_kv.ProcessState.DOWN, procs_kv.ProcessState.CRASHED, procs_kv.ProcessState.DESTROYED}
)
"""States of processes `deis ps` does not show (Kubernetes hides them likewise)."""

_LATEST_VERSION = """
SELECT max(version) FROM releases WHERE app_uuid = $1 AND NOT failed
"""


@dataclass(frozen=True)
class Pod:
    """One process as `deis ps` shows it."""

    name: str
    state: str
    type: str
    release: int
    started: datetime

    def public(self) -> dict[str, Any]:
        """The Pod object of docs/api.md §3.1."""
        return {
            "name": self.name,
            "state": self.state,
            "type": self.type,
            "release": f"v{self.release}",
            "started": timestamp(self.started),
        }


def full_name(*, app_id: str, name: str) -> str:
    """A pod name with the app's prefix: the CLI may send `web-1269180282-1nyfz` alone."""
    if name.count("-") == 2:
        return f"{app_id}-{name}"
    return name


def visible(
    processes: list[procs_kv.Process],
    *,
    version: int | None,
    kind: str | None = None,
    name: str | None = None,
    now: datetime,
) -> list[Pod]:
    """The processes `deis ps` shows, newest first; a process not yet started counts as `now`.

    Args:
        processes: Every process of the app, as the scheduler reports them.
        version: The latest non-failed release; `None` shows nothing.
        kind: Only this process type, when given.
        name: Only the process of this full name, when given.
        now: The start time given to processes not started yet.
    """
    pods = [
        Pod(
            name=process.name,
            state=str(process.state),
            type=process.type,
            release=process.release,
            started=process.started or now,
        )
        for process in processes
        if process.release == version
        and process.type not in HIDDEN_TYPES
        and process.state not in HIDDEN_STATES
        and (kind is None or process.type == kind)
        and (name is None or process.name == name)
    ]
    pods.sort(key=lambda pod: pod.started, reverse=True)
    return pods


async def processes_of(ctx: Context, *, app_id: str) -> list[procs_kv.Process]:
    """The scheduler's processes of the app; none when it never wrote any.

    Raises:
        ServiceUnavailable: NATS cannot be reached, or the value cannot be read.
    """
    if ctx.nc is None or not ctx.nc.is_connected:
        raise errors.ServiceUnavailable()
    js = connection.jetstream(ctx.nc, timeout=ctx.settings.rpc_timeout)
    try:
        value = await kv.get(js, procs_kv.SPEC, app_id)
    except kv.BucketNotFound:
        return []
    except bus_errors.InvalidMessage as exc:
        logger.error("unreadable processes of %s: %s", app_id, exc)
        raise errors.ServiceUnavailable() from exc
    except bus_errors.BusError as exc:
        logger.warning("cannot read the processes of %s: %s", app_id, exc)
        raise errors.ServiceUnavailable() from exc
    return [] if value is None else list(value.processes)


async def list_pods(
    *, ctx: Context, app: AppAccess, kind: str | None = None, name: str | None = None
) -> list[Pod]:
    """The app's pods, optionally of one type or one pod (short names expanded).

    Raises:
        ServiceUnavailable: The processes cannot be read.
    """
    async with ctx.pool.acquire() as conn:
        version = await conn.fetchval(_LATEST_VERSION, app.app.uuid)
    processes = await processes_of(ctx, app_id=app.app.id)
    wanted = None if name is None else full_name(app_id=app.app.id, name=name)
    return visible(processes, version=version, kind=kind, name=wanted, now=datetime.now(UTC))
