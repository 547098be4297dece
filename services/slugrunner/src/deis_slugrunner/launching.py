"""The last step: replace this process with the app's command, as the app's user.

`execute` is the seam tests stop at: everything before it (`running.prepare`) is a plain
coroutine returning a `Launch`; `execute` only changes directory, switches user when asked and
calls `os.execve`, so the command becomes the container's main process (tini's child) and gets
its signals.

Pods run the runner as the app's user already (`runAsUser`, the image's `USER`). Started as root
(`docker run --user 0`), the runner fetches and unpacks as root, gives the unpacked tree to the
app's user (`give_to`) and switches to that user only here, right before `execve`: switching
earlier would leave the runner unable to read what it has yet to import (an interpreter under a
private home, as in a developer's virtualenv).
"""

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Final, NoReturn

SHELL: Final = "/bin/sh"
"""What runs the command line, as a Procfile's lines are run everywhere."""

ROOT_UID: Final = 0


@dataclass(frozen=True)
class Launch:
    """The process to become."""

    argv: list[str]
    env: dict[str, str]
    cwd: Path
    uid: int | None = None
    """User and group id to switch to first; None keeps the runner's own (not root's)."""


def app_uid(run_as_user: int) -> int | None:
    """The user the app must be switched to: `run_as_user` when running as root, else None.

    Raises:
        ValueError: `run_as_user` is root's.
    """
    if run_as_user == ROOT_UID:
        raise ValueError("the app never runs as root")
    return run_as_user if os.geteuid() == ROOT_UID else None


def shell(command: str, *, env: dict[str, str], cwd: Path, uid: int | None = None) -> Launch:
    """`/bin/sh -c <command>` in `cwd` with exactly `env`, as `uid` (None: as is)."""
    return Launch(argv=[SHELL, "-c", command], env=env, cwd=cwd, uid=uid)


def give_to(tree: Path, uid: int) -> None:
    """Make `uid` (user and group) own `tree` and everything in it; links are not followed."""
    os.lchown(tree, uid, uid)
    for directory, dirs, files in os.walk(tree):
        for name in dirs + files:
            os.lchown(os.path.join(directory, name), uid, uid)


def drop_privileges(uid: int) -> None:
    """Become user and group `uid`, with no supplementary groups, for good.

    Raises:
        ValueError: `uid` is root's.
        PermissionError: not running as root.
    """
    if uid == ROOT_UID:
        raise ValueError("the app never runs as root")
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)


def execute(launch: Launch) -> NoReturn:
    """Replace this process with `launch`.

    Raises:
        OSError: the directory or the program is missing, or the user switch was refused
            (the runner's process stays).
    """
    os.chdir(launch.cwd)
    if launch.uid is not None:
        drop_privileges(launch.uid)
    os.execve(launch.argv[0], launch.argv, launch.env)
