"""Stop the app processes the records name, with no scheduler running: `deisctl down`'s backstop.

`deisctl down` asks the scheduler to take the apps with it; a scheduler that is dead (killed,
crashed, waiting for its restart) or that failed to stop them leaves them running, as they are
meant to outlive it. `deis-scheduler stop-apps` then reads the per-app records (`records`) and
stops every process they name: SIGTERM to its process group (to the group but its leader, for a
sandboxed process, which bwrap leads), `grace` seconds, then SIGKILL.

The boundary: a recorded pid is signalled only while it names the recorded process, with the
recorded start time and still leading its group (`processes.open_if_same`, which pins it with a
pidfd). Its group is signalled while the leader is seen alive through that pidfd; as soon as
the leader exits, what remains of its group is killed, as `LocalProcess` does (while members
remain, the group's id cannot be given to another process).

The records are left as they are: the next scheduler finds the processes gone and starts the
apps afresh, and the versions that failed stay failed.
"""

import contextlib
import os
import select
import signal
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from deis_scheduler.local import processes, records
from deis_scheduler.local.processes import Identity


@dataclass(frozen=True)
class Stopped:
    """One app process that was running as recorded, and was stopped."""

    app: str
    label: str
    """`<type>.<index>`."""
    pid: int


def stop_recorded(
    found: Iterable[records.AppRecord],
    *,
    grace: float,
    clock: Callable[[], float] = time.monotonic,
) -> list[Stopped]:
    """Stop every process of `found` that still runs as recorded.

    Args:
        found: the apps' records (`Records.load()`).
        grace: seconds between SIGTERM and SIGKILL.
        clock: monotonic seconds, for the grace period.

    Returns:
        The processes that were running and are stopped now.
    """
    running: list[tuple[Stopped, int]] = []
    sandboxed: set[int] = set()
    try:
        for record in found:
            for entry in record.processes:
                if entry.pid is None or entry.start_ticks is None:
                    continue
                pidfd = processes.open_if_same(Identity(entry.pid, entry.start_ticks))
                if pidfd is not None:
                    label = f"{entry.type}.{entry.index}"
                    stopped = Stopped(app=record.app, label=label, pid=entry.pid)
                    running.append((stopped, pidfd))
                    if entry.sandboxed:
                        sandboxed.add(entry.pid)
        for stopped, pidfd in running:
            if _exited(pidfd):
                continue
            if stopped.pid in sandboxed:  # bwrap leads the group: SIGTERM is for the app
                processes.signal_members(stopped.pid, signal.SIGTERM)
            else:
                _signal_group(stopped.pid, signal.SIGTERM)
        leaders = {pidfd: stopped.pid for stopped, pidfd in running}
        for pidfd in _wait(list(leaders), deadline=clock() + grace, clock=clock):
            # Exited now: the rest of its group goes at once, while its id cannot be reused.
            _signal_group(leaders.pop(pidfd), signal.SIGKILL)
        for pid in leaders.values():  # still running after the grace period
            _signal_group(pid, signal.SIGKILL)
    finally:
        for _, pidfd in running:
            os.close(pidfd)
    return [stopped for stopped, _ in running]


def _exited(pidfd: int) -> bool:
    """Whether the process behind `pidfd` has exited (a pidfd turns readable then)."""
    readable, _, _ = select.select([pidfd], [], [], 0)
    return bool(readable)


def _wait(pidfds: list[int], *, deadline: float, clock: Callable[[], float]) -> Iterator[int]:
    """Yield each of `pidfds` as its process exits, until all did or the deadline passed."""
    poller = select.poll()
    for pidfd in pidfds:
        poller.register(pidfd, select.POLLIN)
    waiting = set(pidfds)
    while waiting and (left := deadline - clock()) > 0:
        for pidfd, _ in poller.poll(left * 1000):
            poller.unregister(pidfd)
            waiting.discard(pidfd)
            yield pidfd


def _signal_group(pgid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)
