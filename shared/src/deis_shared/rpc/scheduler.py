"""RPC the scheduler answers for the controller: run a one-off process (`deis run`).

Subject `deis.rpc.scheduler.run`. The scheduler runs `command` in the app's current release
(slug, config, limits from KV `desired`) and replies when it exits or times out.
"""

from typing import Literal

from pydantic import Field

from deis_shared import appnames, wire

RUN_SUBJECT = "deis.rpc.scheduler.run"
"""Subject of `RunRequest` -> `RunReply`."""


class RunRequest(wire.Message):
    """Run `command` once for `app`, as `user` asked."""

    schema_version: Literal[1] = Field(1, alias="schema")

    app: appnames.AppName
    command: str = Field(min_length=1)
    """A shell command line, run with `/bin/sh -c` inside the app's environment."""
    user: wire.Username
    timeout_seconds: float = Field(gt=0)
    """Kill the process after this long; the NATS request timeout must be a little longer."""


class RunReply(wire.Message):
    """How the one-off process ended and what it printed."""

    schema_version: Literal[1] = Field(1, alias="schema")

    exit_code: int
    """The process's exit status; a kill on timeout is reported as 124 (as `timeout(1)` does)."""
    output: str
    """stdout and stderr, interleaved."""
    truncated: bool = False
    """Whether `output` was cut to fit a NATS message."""
