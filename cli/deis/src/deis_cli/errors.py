"""Failures the `deis` command reports as one line on stderr and a non-zero exit code.

Tree::

    CliError                 anything the user should read instead of a traceback
    ├── NotLoggedIn          no profile, or it lacks a controller or token
    ├── InvalidInput         an argument fails the CLI's own checks (exit code 2)
    ├── Aborted              a confirmation was refused
    ├── ControllerUnreachable  connection refused, DNS failure, timeout
    └── ApiError             the controller answered with an error status
"""

from http import HTTPStatus


class CliError(Exception):
    """A failure with a message meant for people."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotLoggedIn(CliError):
    """The profile holds no controller or token."""

    def __init__(self, message: str = "") -> None:
        super().__init__(
            message or "Not logged in. Use 'deis login' or 'deis register' to get started."
        )


class InvalidInput(CliError):
    """An argument fails the CLI's own validation; nothing was sent."""

    exit_code = 2


class Aborted(CliError):
    """The user did not confirm a destructive action."""


class ControllerUnreachable(CliError):
    """The controller could not be reached at all."""


class ApiError(CliError):
    """The controller answered with an error status."""

    def __init__(self, status: int, detail: str) -> None:
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = "Error"
        head = f"{status} {reason}"
        super().__init__(f"{head}: {detail}" if detail else head)
        self.status = status
        self.detail = detail
