"""What KV `procs` says of a change of what runs (scale, restart): settled, failed, or not yet.

A scale or a restart makes no release, so the scheduler reports no deploy event for it (its
`reporting` says why): the processes it writes to KV `procs` are the only news. These pure
functions read one look at them against the look taken before the change (`before`, by name):

- a process that crashed since (its `restarts` rose, or a new one is `crashed` or `error`)
  fails the change: its exit code is the reason;
- a scale has settled when every type it set runs exactly its count, every process `up`
  (processes of a scale-down gone: `down` and `destroyed` ones count as gone, `terminating`
  ones not yet);
- a restart has settled when every targeted process has a replacement that is `up` (a
  process whose name and start time were not there before: the local scheduler restarts a
  process under its name, Kubernetes replaces the pod under a new one).
"""

from dataclasses import dataclass
from datetime import UTC, datetime

from deis_shared.kv import procs as procs_kv

State = procs_kv.ProcessState

GONE = frozenset({State.DOWN, State.DESTROYED})
"""States of processes that no longer count: stopped for good, or removed."""

FAILED = frozenset({State.CRASHED, State.ERROR})

HIDDEN_TYPES = frozenset({"run"})
"""One-off processes: no part of the formation."""

_EPOCH = datetime.fromtimestamp(0, tz=UTC)


@dataclass(frozen=True)
class Crash:
    """A process of the change that exited (or cannot start) instead of running."""

    process: procs_kv.Process

    @property
    def label(self) -> str:
        """`<type>.<index>`, as the app's log names the process."""
        return f"{self.process.type}.{self.process.index}"

    def reason(self) -> str:
        """One line a user can act on."""
        process = self.process
        if process.state == State.ERROR:
            return f"{self.label} cannot start"
        if process.exit_code is not None:
            return f"{self.label} exited with code {process.exit_code}"
        return f"{self.label} exited and was restarted ({process.restarts} restarts)"


@dataclass(frozen=True)
class Running:
    """The change has settled: these processes run (of the restart's scope, for a restart)."""

    processes: list[procs_kv.Process]


Verdict = Running | Crash | None
"""None: not settled yet."""


def _crashed(process: procs_kv.Process, *, before: dict[str, procs_kv.Process]) -> bool:
    earlier = before.get(process.name)
    if earlier is None:
        return process.state in FAILED or process.restarts > 0
    return process.restarts > earlier.restarts


def _live(
    processes: list[procs_kv.Process], *, version: int, kind: str | None = None
) -> list[procs_kv.Process]:
    return [
        process
        for process in processes
        if process.release == version
        and process.type not in HIDDEN_TYPES
        and process.state not in GONE
        and (kind is None or process.type == kind)
    ]


def scaled(
    processes: list[procs_kv.Process],
    *,
    version: int,
    counts: dict[str, int],
    before: dict[str, procs_kv.Process],
) -> Verdict:
    """Whether release `version` runs `counts` (type -> count), all up."""
    present = {kind: _live(processes, version=version, kind=kind) for kind in sorted(counts)}
    for group in present.values():
        for process in group:
            if _crashed(process, before=before):
                return Crash(process)
    for kind, count in counts.items():
        group = present[kind]
        if len(group) != count or any(process.state != State.UP for process in group):
            return None
    return Running([process for group in present.values() for process in group])


def restarted(
    processes: list[procs_kv.Process],
    *,
    version: int,
    before: dict[str, procs_kv.Process],
    kind: str | None,
    name: str | None,
) -> Verdict:
    """Whether the processes a restart targets (all, of `kind`, or `name`) were replaced."""
    targets = [
        process
        for process in _live(list(before.values()), version=version, kind=kind)
        if name is None or process.name == name
    ]
    if not targets:
        return Running([])
    old = {(process.name, process.started) for process in before.values()}
    scope = kind if name is None else targets[0].type
    present = _live(processes, version=version, kind=scope)
    fresh = [process for process in present if (process.name, process.started) not in old]
    judged = present if name is None else [p for p in present if p in fresh or p.name == name]
    for process in judged:
        if _crashed(process, before=before):
            return Crash(process)
    if name is not None:
        # One pod: its replacement is the newest process of its type that was not there.
        up = [process for process in fresh if process.state == State.UP]
        up.sort(key=lambda process: process.started or _EPOCH, reverse=True)
        return Running(up[:1]) if up else None
    settled = len(fresh) == len(present) >= len(targets) and all(
        process.state == State.UP for process in present
    )
    return Running(present) if settled else None
