"""Log lines: one message per line of app or platform output, on the JetStream stream `LOGS`.

Subject: `deis.logs.<app>`. Writers are the scheduler (local backend, one line per line of a
process's stdout/stderr), fluent-bit (Kubernetes) and the controller (platform lines such as
`bob deployed abc1234`, process `controller`). The logger stores them, with a per-subject limit
acting as a per-app ring buffer, and renders them as `<RFC 3339 time> <app>[<process>]: <message>`.
This is not an event stream, so it lives beside the events only for its shape.
"""

from typing import Literal

from pydantic import Field

from deis_shared import appnames, wire

STREAM = "LOGS"
"""Name of the JetStream stream holding log lines."""

SUBJECTS = "deis.logs.>"
"""Subject filter of the `LOGS` stream."""


def subject(app: str) -> str:
    """Subject of the log lines of one app.

    Args:
        app: The app name; validated.

    Returns:
        `deis.logs.<app>`.

    Raises:
        InvalidAppName: `app` is not a valid app name.
    """
    return f"deis.logs.{appnames.validate_app_name(app)}"


class LogLine(wire.Message):
    """One line of output; `ts` is when the line was written."""

    schema_version: Literal[1] = Field(1, alias="schema")

    app: appnames.AppName
    process: str = Field(pattern=r"^[a-z0-9]+([.-][a-z0-9]+)*$", max_length=128)
    """`<type>.<index>` for app processes (`web.1`), or a platform source without a dot
    (`controller`, `builder`), which Deis prints as `deis[<source>]`."""
    message: str
    """The line, without its line ending."""

    def format(self) -> str:
        """Render the line as `deis logs` prints it.

        Returns:
            `<RFC 3339 time> <app>[<process>]: <message>`, e.g.
            `2024-05-01T12:00:00.123456Z myapp[web.1]: listening on 5000`; a platform line
            (process without a dot) as `... deis[controller]: bob deployed abc1234`.
        """
        stamp = self.ts.isoformat(timespec="microseconds").replace("+00:00", "Z")
        source = self.app if self.is_app_output else "deis"
        return f"{stamp} {source}[{self.process}]: {self.message}"

    @property
    def is_app_output(self) -> bool:
        """Whether an app process wrote the line (`web.1`), rather than the platform."""
        return "." in self.process
