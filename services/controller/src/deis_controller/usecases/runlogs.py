"""One-off processes and logs of an app (`deis run`, `deis logs [-f]`; docs/api.md §2.2).

Both ask another service over NATS: the scheduler runs the command, the logger keeps the
lines. Neither holds a pooled database connection while waiting for it: a `deis run` may take
minutes and a followed log hours, and a pool of a few connections would soon be exhausted.

Following a log reads the `LOGS` stream itself through one consumer that starts at the last
lines and goes on with new ones (`deis_shared.bus.logreading`), so that no line written
between the tail and the follow is lost or shown twice; the plain tail asks the logger.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any, cast

import asyncpg

from deis_controller import errors
from deis_controller.usecases import state
from deis_controller.usecases.context import Context
from deis_controller.usecases.records import AppAccess
from deis_shared.bus import connection, errors as bus_errors, logreading, requesting, streams
from deis_shared.errors import DeisError
from deis_shared.events import logs as log_events
from deis_shared.rpc import logger as logger_rpc, scheduler as scheduler_rpc

logger = logging.getLogger(__name__)

NO_BUILD = "No build associated with this release to run this command"

IMAGE_BUILD = (
    "This release runs a Docker image, and this platform runs one-off commands only in "
    "releases built from git pushes"
)

CLIENT_ERRORS = frozenset({"no_release", "invalid"})
"""Codes of the scheduler's run errors that the request caused: answered 400, not 503."""

RUN_GRACE = 10.0
"""Seconds the controller waits beyond the scheduler's own kill timeout for the answer."""

DEFAULT_LOG_LINES = 100
"""Deis's default `log_lines`."""

MAX_LOG_LINES = 10_000
"""The most lines the logger hands out at once."""

_LATEST_BUILD = """
SELECT r.build_uuid, b.slug_key FROM releases r LEFT JOIN builds b ON b.uuid = r.build_uuid
WHERE r.app_uuid = $1 AND NOT r.failed
ORDER BY r.version DESC LIMIT 1
"""


class LogsUnavailable(DeisError):
    """The logger could not be asked; the route answers Deis's plain-text 500."""


@dataclass(frozen=True)
class RunResult:
    """How a one-off process ended."""

    exit_code: int
    output: str


def _client(ctx: Context) -> connection.Client:
    if ctx.nc is None:
        raise bus_errors.BusUnavailable("the controller runs without NATS")
    return ctx.nc


def parse_command(data: dict[str, Any], *, max_bytes: int) -> str:
    """The command of a run body.

    Raises:
        BadRequest: No command, an empty one, or one longer than `max_bytes`.
    """
    command = data.get("command")
    if not isinstance(command, str) or not command.strip():
        raise errors.BadRequest("command is a required field")
    if (size := len(command.encode())) > max_bytes:
        raise errors.BadRequest(f"command is {size:,} bytes long; at most {max_bytes:,} are taken")
    return command


async def run(*, ctx: Context, app: AppAccess, command: str) -> RunResult:
    """Run `command` once in the app's current release, through the scheduler.

    Raises:
        BadRequest: The latest release has no build to run it in, or the scheduler refused
            the command as the caller's mistake (`CLIENT_ERRORS`).
        ServiceUnavailable: The scheduler did not answer, or failed.
    """
    async with ctx.pool.acquire() as proxy, proxy.transaction():
        conn = cast(asyncpg.Connection, proxy)
        build = await conn.fetchrow(_LATEST_BUILD, app.app.uuid)
        if build is None or build["build_uuid"] is None:
            raise errors.BadRequest(NO_BUILD)
        if not build["slug_key"]:
            raise errors.BadRequest(IMAGE_BUILD)
        await state.platform_log(
            conn, app_id=app.app.id, message=f"{app.user.username} runs '{command}'"
        )
    timeout = ctx.settings.run_timeout
    try:
        reply = await requesting.request(
            _client(ctx),
            subject=scheduler_rpc.RUN_SUBJECT,
            payload=scheduler_rpc.RunRequest(
                app=app.app.id, command=command, user=app.user.username, timeout_seconds=timeout
            ),
            reply_type=scheduler_rpc.RunReply,
            timeout=timeout + RUN_GRACE,
        )
    except bus_errors.RpcRemoteError as exc:
        logger.warning("run on %s failed: %s", app.app.id, exc)
        if exc.code in CLIENT_ERRORS:
            raise errors.BadRequest(exc.message) from exc
        raise errors.ServiceUnavailable() from exc
    except bus_errors.BusError as exc:
        logger.warning("run on %s failed: %s", app.app.id, exc)
        raise errors.ServiceUnavailable() from exc
    return RunResult(exit_code=reply.exit_code, output=reply.output)


def log_lines(value: str | None) -> int:
    """The `log_lines` query parameter: a positive count, at most `MAX_LOG_LINES`.

    Anything that is not a positive integer means the default, as a missing value does.
    """
    try:
        lines = int(value) if value is not None else DEFAULT_LOG_LINES
    except ValueError:
        return DEFAULT_LOG_LINES
    if lines < 1:
        return DEFAULT_LOG_LINES
    return min(lines, MAX_LOG_LINES)


async def tail(*, ctx: Context, app_id: str, lines: int) -> list[str]:
    """The last `lines` formatted lines of the app, oldest first.

    Raises:
        LogsUnavailable: The logger did not answer, or answered an error.
    """
    try:
        reply = await requesting.request(
            _client(ctx),
            subject=logger_rpc.TAIL_SUBJECT,
            payload=logger_rpc.TailRequest(app=app_id, lines=lines),
            reply_type=logger_rpc.TailReply,
            timeout=ctx.settings.rpc_timeout,
        )
    except bus_errors.BusError as exc:
        logger.warning("log tail of %s failed: %s", app_id, exc)
        raise LogsUnavailable(f"Error accessing logs for {app_id}") from exc
    return reply.lines


@dataclass
class Follow:
    """A followed log: the last lines, then every new one until `close()` or the time limit."""

    reader: logreading.LogReader
    deadline: float
    """`time.monotonic()` after which the stream ends."""

    async def lines(self) -> AsyncGenerator[str, None]:
        """The lines as they come; the consumer goes when done or cancelled."""
        try:
            while (left := self.deadline - time.monotonic()) > 0:
                try:
                    async with asyncio.timeout(left):
                        line = await anext(self.reader)
                except (TimeoutError, StopAsyncIteration):
                    break
                except bus_errors.BusError as exc:
                    logger.info("log follow ended: %r", exc)  # NATS went away: end the stream
                    break
                yield line
        finally:
            await self.close()

    async def close(self) -> None:
        """Stop reading; idempotent."""
        with contextlib.suppress(bus_errors.BusError):
            await self.reader.close()


async def follow(*, ctx: Context, app_id: str, lines: int) -> Follow:
    """Read the app's last `lines` lines, then the new ones, from the `LOGS` stream itself.

    One consumer reads both (`deis_shared.bus.logreading`), so no line falls between the
    tail and what follows, and none comes twice.

    Raises:
        LogsUnavailable: NATS or the stream could not be reached.
    """
    try:
        nc = _client(ctx)
        js = connection.jetstream(nc)
        await streams.check_stream(js, log_events.STREAM)
    except bus_errors.BusError as exc:
        raise LogsUnavailable(f"Error accessing logs for {app_id}") from exc
    reader = logreading.LogReader(js=js, nc=nc, app=app_id, lines=lines, follow=True)
    return Follow(reader=reader, deadline=time.monotonic() + ctx.settings.follow_max_seconds)
