"""Who nginx's workers run as: the `user` directive, decided deliberately.

Not root: nginx ignores `user`, and workers run as the agent; nothing to decide.

Root: nginx would run workers as `nobody` by default, and they could not write their temp files
(request bodies and large responses spill there) if the data dir lies under a 0700 home such as
`/root`. So the agent names the user itself: `nginx_user` when that user can reach the temp dir
(which is then handed to it), else root, with a warning. The master stays root either way: it
reads the TLS keys (0600, root's) and binds the ports.
"""

import grp
import logging
import os
import pwd
import re
import stat
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

_USER_NAME = re.compile(r"[a-z_][a-z0-9_-]{0,31}\$?", re.ASCII)


@dataclass(frozen=True, slots=True)
class WorkerUser:
    """The `user` directive's value (None: leave it out) and who owns the temp dirs."""

    directive: str | None
    owner: tuple[int, int] | None


def _can_traverse(path: Path, *, uid: int, gids: set[int]) -> bool:
    for directory in (path, *path.parents):
        info = directory.stat()
        if info.st_uid == uid:
            bit = stat.S_IXUSR
        elif info.st_gid in gids:
            bit = stat.S_IXGRP
        else:
            bit = stat.S_IXOTH
        if not info.st_mode & bit:
            return False
    return True


def _root() -> WorkerUser:
    return WorkerUser(directive=f"root {grp.getgrgid(0).gr_name}", owner=(0, 0))


def worker_user(*, name: str, temp: Path) -> WorkerUser:
    """Decide the workers' user, for an agent whose temp dir is `temp` (it must exist)."""
    if os.geteuid() != 0:
        return WorkerUser(directive=None, owner=None)
    if not name:
        return _root()
    if _USER_NAME.fullmatch(name) is None:
        raise ValueError(f"invalid nginx user name {name!r}")
    try:
        user = pwd.getpwnam(name)
        group = grp.getgrgid(user.pw_gid).gr_name
    except KeyError:
        logger.warning("nginx user %r does not exist; nginx workers run as root", name)
        return _root()
    gids = {user.pw_gid, *(g.gr_gid for g in grp.getgrall() if name in g.gr_mem)}
    if not _can_traverse(temp, uid=user.pw_uid, gids=gids):
        logger.warning(
            "nginx user %r cannot reach %s; nginx workers run as root", name, temp.parent
        )
        return _root()
    return WorkerUser(directive=f"{name} {group}", owner=(user.pw_uid, user.pw_gid))
