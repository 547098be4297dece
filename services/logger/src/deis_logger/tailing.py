"""The tail RPC (`deis.rpc.logger.tail`): the last N lines of an app, for `deis logs`.

The lines are read with the same reader the controller follows logs with
(`deis_shared.bus.logreading`), so a tail and the start of a follow agree line for line. An
app the stream has no line of, known or not, answers an empty list, never an error.
"""

from deis_shared.bus import connection, logreading, requesting
from deis_shared.rpc import logger as logger_rpc

RPC_QUEUE = "logger"
"""Queue group of the logger's responders: replicas share the requests."""

TailResponder = requesting.Responder[logger_rpc.TailRequest, logger_rpc.TailReply]


def responder(*, bus: connection.Bus, max_lines: int) -> TailResponder:
    """A responder answering tail requests with at most `max_lines` lines (the per-app limit).

    Args:
        bus: The connected bus.
        max_lines: The most lines one answer holds.

    Returns:
        The responder, not started.
    """

    async def answer(request: logger_rpc.TailRequest) -> logger_rpc.TailReply:
        lines = await logreading.tail(
            js=bus.js, nc=bus.nc, app=request.app, lines=min(request.lines, max_lines)
        )
        return logger_rpc.TailReply(lines=lines)

    return requesting.Responder(
        nc=bus.nc,
        subject=logger_rpc.TAIL_SUBJECT,
        queue=RPC_QUEUE,
        request_type=logger_rpc.TailRequest,
        handler=answer,
    )
