"""CPU limits through Linux control groups, where this host lets the scheduler make them.

Each limited process gets a group of its own, `<root>/<process name>`, with a CFS quota of
`millicores / 1000` CPUs per period; its pid is moved in right after it starts (its children
follow it), and the group is removed once the process is gone for good. Two layouts:

- cgroup v2 (the unified hierarchy at `/sys/fs/cgroup` with the `cpu` controller): groups under
  `/sys/fs/cgroup/deis`, limit in `cpu.max` (`<quota> <period>`);
- cgroup v1 (a `cpu` hierarchy at `/sys/fs/cgroup/cpu`): groups under `<that>/deis`, limit in
  `cpu.cfs_quota_us` and `cpu.cfs_period_us`.

Where neither is writable (not root, a read-only mount in a container), `find` says so and CPU
limits are not applied; `procs` then shows none, rather than a limit that is not there.
"""

import contextlib
import logging
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

from deis_shared import limits

logger = logging.getLogger(__name__)

PERIOD_US: Final = 100_000
"""The CFS period a quota is counted in: 100 ms, the kernel's default."""

_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{0,200}$")


@dataclass(frozen=True)
class CpuControl:
    """A cgroup directory the scheduler may create per-process groups in."""

    root: Path
    version: Literal[1, 2]

    def group(self, name: str) -> Path:
        """The group of process `name` (a process name: `<app>-<type>-v<n>-<i>`).

        Raises:
            ValueError: `name` could escape the root (it is not a process name).
        """
        if _NAME.fullmatch(name) is None or ".." in name:
            raise ValueError(f"{name!r} is not a process name")
        return self.root / name


def millicores(spec: str | None) -> int | None:
    """The CPU limit of a Deis CPU spec in thousandths of a CPU; `None` for no limit.

    `500m` is 500, `0.5` is 500, `2` is 2000; of `<request>/<limit>` the limit counts; a
    limit of 0 means none. The rules are `deis_shared.limits`', which the controller applies.

    Raises:
        InvalidLimit: `spec` is not a CPU limit (a `ValueError`).
    """
    return None if spec is None else limits.parse_cpu(spec).limit


def find(base: Path = Path("/sys/fs/cgroup")) -> CpuControl | None:
    """Where CPU limits can be applied on this host, or None; creates `<hierarchy>/deis`."""
    candidates: list[tuple[Path, Literal[1, 2]]] = []
    controllers = base / "cgroup.controllers"
    if controllers.exists() and "cpu" in controllers.read_text().split():
        candidates.append((base / "deis", 2))
    if (base / "cpu" / "cpu.cfs_quota_us").exists():
        candidates.append((base / "cpu" / "deis", 1))
    for root, version in candidates:
        try:
            root.mkdir(exist_ok=True)
            if version == 2:
                (root / "cgroup.subtree_control").write_text("+cpu")
        except OSError as exc:
            logger.info("CPU limits cannot use %s: %s", root, exc)
            continue
        return CpuControl(root=root, version=version)
    logger.info("no writable cgroup CPU controller: CPU limits are not applied")
    return None


def limit(
    control: CpuControl, *, name: str, pid: int, millicores: int, others: Sequence[int] = ()
) -> bool:
    """Put process `pid`, `others` (its group) and their future children under `millicores`.

    Returns:
        Whether the limit applies; a failure is logged, and the process runs unlimited.
    """
    group = control.group(name)
    quota = max(1000, millicores * PERIOD_US // 1000)
    try:
        group.mkdir(exist_ok=True)
        if control.version == 2:
            (group / "cpu.max").write_text(f"{quota} {PERIOD_US}")
        else:
            (group / "cpu.cfs_period_us").write_text(str(PERIOD_US))
            (group / "cpu.cfs_quota_us").write_text(str(quota))
        (group / "cgroup.procs").write_text(str(pid))
        for other in others:
            with contextlib.suppress(ProcessLookupError):  # gone meanwhile
                (group / "cgroup.procs").write_text(str(other))
    except OSError as exc:
        logger.warning("cannot limit the CPU of %s: %s", name, exc)
        return False
    return True


def holds(control: CpuControl, *, name: str, pid: int) -> bool:
    """Whether process `pid` is in the group of `name` (an adopted process, say)."""
    with contextlib.suppress(OSError):
        members = (control.group(name) / "cgroup.procs").read_text().split()
        return str(pid) in members
    return False


def release(control: CpuControl, *, name: str) -> None:
    """Remove the group of `name` if it is empty; a group still in use stays."""
    with contextlib.suppress(OSError):
        os.rmdir(control.group(name))


def release_app(control: CpuControl, *, app: str) -> None:
    """Remove every empty group of `app`'s processes (the app is deleted)."""
    with contextlib.suppress(OSError):
        for group in control.root.glob(f"{app}-*"):
            with contextlib.suppress(OSError):
                os.rmdir(group)
