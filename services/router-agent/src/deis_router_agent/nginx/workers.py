"""When nginx's old workers stop accepting connections after a reload.

A reload starts workers from the new configuration first and only then tells the old ones to
quit; for that moment a new connection may still reach an old worker, which answers from the
old configuration (say, a 503 page for an app whose first release just went live). An old
worker that quits closes its listening sockets at once, even while it finishes the requests it
has (a websocket, say, up to `worker_shutdown_timeout`). So the reload is complete once no old
worker holds any of the master's listening sockets: the inodes of the master's sockets in
`/proc/<pid>/fd` that `/proc/net/tcp{,6}` lists in the LISTEN state (only those: the master and
its workers share other sockets too, the channels they talk over). `/proc/<pid>/fd` is readable
by the agent, which starts nginx as its own user or as root.
"""

import asyncio
import contextlib
import os
import time
from pathlib import Path

POLL_INTERVAL = 0.005

LISTEN = "0A"
"""The LISTEN state in `/proc/net/tcp`."""


def workers(master: int) -> set[int]:
    """The master's child processes now (its workers, and a cache loader if any)."""
    with contextlib.suppress(OSError, ValueError):
        text = Path(f"/proc/{master}/task/{master}/children").read_text()
        return {int(pid) for pid in text.split()}
    return set()


def sockets(pid: int) -> set[str]:
    """The sockets process `pid` holds open, as `socket:[<inode>]`."""
    found: set[str] = set()
    with contextlib.suppress(OSError):
        for entry in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                target = os.readlink(f"/proc/{pid}/fd/{entry}")
                if target.startswith("socket:"):
                    found.add(target)
    return found


def listening() -> set[str]:
    """Every TCP socket in the LISTEN state in this network namespace, as `socket:[<inode>]`."""
    found: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if len(fields) > 9 and fields[3] == LISTEN:
                    found.add(f"socket:[{fields[9]}]")
    return found


async def wait_until_old_ones_stop_accepting(*, master: int, old: set[int], seconds: float) -> bool:
    """Wait until none of the `old` workers holds a socket the master listens on.

    Returns:
        Whether that happened within `seconds`.
    """
    listeners = sockets(master) & listening()
    deadline = time.monotonic() + seconds
    while any(sockets(pid) & listeners for pid in old):
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(POLL_INTERVAL)
    return True
