"""The named security boundary of the SSH server: which commands a push or clone may run.

Whatever a client sends as its SSH command passes `parse_command` before anything else looks
at it. Exactly two shapes are accepted, the ones git itself sends for
`ssh://git@host:2222/<app>.git` and `git@host:<app>.git`:

    git-receive-pack '<app>.git'     (a push; a leading `/` is allowed)
    git-upload-pack '<app>.git'      (a clone or fetch of the app's repository)

The app part must pass the app-name rule (`deis_shared.appnames`), which already excludes `/`,
`..`, uppercase, whitespace, quotes and NUL. Everything else (a shell, `ls`, `sh -c ...`,
`scp`, git-upload-archive, extra arguments, a missing `.git`, a path with directories) is
refused with a one-line reason. The parsed result is used as an argument list, never as text
for a shell.
"""

import re
from dataclasses import dataclass
from typing import Literal

from deis_builder.errors import Refused
from deis_shared import appnames

MAX_COMMAND_LENGTH = 256
"""Longest command looked at: `git-upload-pack '/` + a 63-character name + `.git'` fits."""

Action = Literal["receive-pack", "upload-pack"]

_COMMAND = re.compile(r"git[- ](?P<action>receive-pack|upload-pack) '(?P<path>[^']*)'")

_PROTOCOL = re.compile(r"version=[0-9]+(:[a-z0-9=._-]+)*")
"""The `GIT_PROTOCOL` values passed on to git (`version=2`); anything else is dropped."""

REFUSED_COMMAND = "only `git push` and `git clone` of an app's repository are allowed here"


@dataclass(frozen=True)
class GitCommand:
    """An accepted command: what git should do, to which app's repository."""

    action: Action
    app: str

    @property
    def program(self) -> str:
        """The git program that serves it, `git-receive-pack` or `git-upload-pack`."""
        return f"git-{self.action}"


def parse_command(command: str | None) -> GitCommand:
    """Accept a git push or clone command for one app's repository, or refuse it.

    Args:
        command: The SSH exec request as the client sent it; `None` for a shell request.

    Returns:
        The action and the app.

    Raises:
        Refused: Anything else; the message is one line for the client.
    """
    if command is None:
        raise Refused(f"interactive shells are not allowed: {REFUSED_COMMAND}")
    if len(command) > MAX_COMMAND_LENGTH:
        raise Refused(f"command too long: {REFUSED_COMMAND}")
    match = _COMMAND.fullmatch(command)
    if match is None:
        raise Refused(REFUSED_COMMAND)
    path = match["path"].removeprefix("/")
    if not path.endswith(".git"):
        raise Refused(f"the repository must be named <app>.git, not {path!r}")
    app = path.removesuffix(".git")
    try:
        appnames.validate_app_name(app)
    except appnames.InvalidAppName as exc:
        raise Refused(str(exc)) from None
    action: Action = "receive-pack" if match["action"] == "receive-pack" else "upload-pack"
    return GitCommand(action=action, app=app)


def protocol_version(value: str | None) -> str | None:
    """The client's `GIT_PROTOCOL` if it has the shape git uses, else `None` (dropped)."""
    if value is None or len(value) > 64 or _PROTOCOL.fullmatch(value) is None:
        return None
    return value
