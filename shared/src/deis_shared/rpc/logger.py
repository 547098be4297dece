"""RPC the logger answers for the controller: the last lines of an app's log (`deis logs`).

Subject `deis.rpc.logger.tail`.
"""

from typing import Literal

from pydantic import Field

from deis_shared import appnames, wire

TAIL_SUBJECT = "deis.rpc.logger.tail"
"""Subject of `TailRequest` -> `TailReply`."""


class TailRequest(wire.Message):
    """The last `lines` lines of `app`."""

    schema_version: Literal[1] = Field(1, alias="schema")

    app: appnames.AppName
    lines: int = Field(default=100, ge=1, le=10_000)
    """Deis's `log_lines`, default 100."""


class TailReply(wire.Message):
    """Formatted lines (`LogLine.format()`), oldest first; empty when the app has no logs."""

    schema_version: Literal[1] = Field(1, alias="schema")

    lines: list[str]
