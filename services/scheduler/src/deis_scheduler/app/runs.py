"""`deis run` as every backend answers it: its refusals, its timeout code, its kept output.

A backend runs the command like any process of the app's current release, unsupervised and
with no port, kills it after the request's `timeout_seconds` (exit code `TIMED_OUT`, as
`timeout(1)` reports it), and keeps its output up to `MAX_OUTPUT` bytes (`Output`), so that the
reply fits a NATS message.
"""

from typing import Final

from deis_shared.errors import PermanentError

MAX_OUTPUT: Final = 512 * 1024
"""Bytes of output returned; NATS's default payload limit is 1 MiB."""

TIMED_OUT: Final = 124
"""The exit code of a command killed at its timeout."""


class NoRelease(PermanentError):
    """The app has no build to run a command in."""

    code = "no_release"


class CannotStart(PermanentError):
    """The command could not be started as given (too long, say)."""

    code = "invalid"


class Output:
    """A command's output lines, kept up to `MAX_OUTPUT` bytes."""

    def __init__(self) -> None:
        """Keep nothing yet."""
        self.data = bytearray()
        self.truncated = False
        """Whether lines were cut or dropped at the limit."""

    def keep(self, line: str) -> None:
        """Keep one line (its newline added), as much of it as fits."""
        data = (line + "\n").encode(errors="replace")
        room = MAX_OUTPUT - len(self.data)
        if len(data) > room:
            self.truncated = True
            data = data[:room]
        self.data.extend(data)

    def text(self) -> str:
        """What was kept, decoded."""
        return self.data.decode(errors="replace")
