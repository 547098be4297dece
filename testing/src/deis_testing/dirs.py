"""Directories the apps' sandboxes can reach: bwrap mounts them as the app's own user id."""

import os
import stat
from pathlib import Path


def traversable(path: Path) -> Path:
    """Let every user pass through `path` and the directories above it (add `o+x`).

    pytest's temporary directories are 0700 under `/tmp/pytest-of-<user>`; a sandbox started
    as an app's user id could not reach a slug below them. Nothing becomes listable or readable.

    Returns:
        `path`, created if missing.
    """
    path.mkdir(parents=True, exist_ok=True)
    for directory in [path, *path.parents]:
        if directory == directory.parent:
            break
        mode = directory.stat().st_mode
        if not mode & stat.S_IXOTH and directory.stat().st_uid == os.geteuid():
            directory.chmod(stat.S_IMODE(mode) | stat.S_IXOTH)
    return path
