"""Where an app's processes run on this host: the sandbox of `deis_shared.sandbox`, per app.

The release's unpacked slug is mounted read-only at `/app`, which is the processes' working
directory and `HOME`, as in Deis; `/tmp` is theirs to write. Each app has a user id of its own
(`UidTable`, when the scheduler is root), shared by its processes and its `deis run`s, whose
process count (`max_app_processes`) caps them all together.
"""

from pathlib import Path
from typing import Final

from deis_shared.sandbox import Mount, Sandbox, UidTable

APP_HOME: Final = "/app"
"""Where the slug is inside the sandbox: working directory and `HOME`."""


def app_sandbox(
    uids: UidTable | None, *, app: str, release_dir: Path, max_processes: int
) -> Sandbox:
    """The sandbox one process of `app` runs in, its slug unpacked at `release_dir`.

    Raises:
        OSError: the table of user ids cannot be read or written.
        RuntimeError: no user id is left for a new app.
    """
    return Sandbox(
        uid=uids.uid(app) if uids is not None else None,
        mounts=(Mount(release_dir, APP_HOME),),
        workdir=APP_HOME,
        hostname=app,
        max_processes=max_processes,
    )
