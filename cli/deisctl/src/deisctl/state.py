"""The running platform, as other `deisctl` commands see it: a lock and a state file.

The supervisor holds an exclusive `flock` on `run/deisctl.lock` for as long as it runs, so a
second `up` on the same data dir knows at once, and a crash releases it with the process. It
writes `run/state.json` (pid, ready, urls, each process's pid and health port) whenever
something changes; `status`, `down` and `up -d` read it.
"""

import contextlib
import fcntl
import json
import os
from dataclasses import asdict, dataclass, field
from typing import IO, Any

from deisctl.errors import CtlError
from deisctl.layout import Layout


@dataclass
class State:
    """What a running supervisor says about itself."""

    pid: int
    data_dir: str
    ready: bool = False
    failed: str | None = None
    urls: dict[str, str] = field(default_factory=dict)
    processes: dict[str, int | None] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


class Lock:
    """The data dir's lock, held while a supervisor runs there."""

    def __init__(self, layout: Layout) -> None:
        """The lock of `layout`'s data dir (not taken yet)."""
        self._path = layout.lock
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        """Take the lock.

        Raises:
            CtlError: another supervisor holds it.
        """
        self._path.parent.mkdir(parents=True, exist_ok=True)
        handle = self._path.open("a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise CtlError(
                f"the platform is already running from {self._path.parent.parent}"
                " (`deisctl status` shows it, `deisctl down` stops it)"
            ) from None
        self._file = handle

    def release(self) -> None:
        """Give the lock back; idempotent."""
        handle, self._file = self._file, None
        if handle is not None:
            handle.close()


def held(layout: Layout) -> bool:
    """Whether a supervisor runs on this data dir now."""
    lock = Lock(layout)
    try:
        lock.acquire()
    except CtlError:
        return True
    lock.release()
    return False


def write(layout: Layout, state: State) -> None:
    """Replace the state file whole."""
    scratch = layout.state.with_suffix(".tmp")
    scratch.write_text(json.dumps(asdict(state), indent=2))
    os.chmod(scratch, 0o600)
    scratch.replace(layout.state)


def read(layout: Layout) -> State | None:
    """The state file, if there is a readable one."""
    try:
        data: dict[str, Any] = json.loads(layout.state.read_text())
        return State(**data)
    except (OSError, ValueError, TypeError):
        return None


def remove(layout: Layout) -> None:
    """Forget the state (the supervisor ended)."""
    with contextlib.suppress(FileNotFoundError):
        layout.state.unlink()
