"""One SSH session: the command checked, the git program run, its streams wired to the channel.

The channel's data are copied by hand rather than with `SSHServerProcess.redirect`, so that the
exit status is sent only after every byte git wrote has reached the channel.
"""

import asyncio
import contextlib
import logging
import os
import signal

import asyncssh

from deis_builder.app import pushing
from deis_builder.app.context import Context
from deis_builder.domain import commands
from deis_builder.errors import PushBusy, Refused
from deis_shared import errors as deis_errors

logger = logging.getLogger(__name__)

CHUNK = 64 * 1024


async def serve(ctx: Context, process: asyncssh.SSHServerProcess[bytes]) -> None:
    """Run the session's git command, or refuse it with a one-line reason; then exit."""
    code = 1
    try:
        command = commands.parse_command(process.command)
        pusher = pushing.Pusher(
            username=process.get_extra_info("deis_user"),
            fingerprint=process.get_extra_info("deis_fingerprint"),
        )

        async def say(text: str) -> None:
            process.stderr.write(f"{text}\n".encode())
            await process.stderr.drain()

        protocol = commands.protocol_version(process.env.get("GIT_PROTOCOL"))
        async with pushing.git_session(
            ctx, pusher=pusher, command=command, protocol=protocol, say=say
        ) as git:
            code = await _run(process, git)
    except (Refused, PushBusy) as exc:
        process.stderr.write(f"! {exc}\n".encode())
    except deis_errors.DeisError as exc:
        logger.exception("session failed")
        process.stderr.write(f"! the builder could not serve this request: {exc}\n".encode())
    except (asyncssh.Error, ConnectionError, BrokenPipeError):
        logger.info("the client went away")
    finally:
        with contextlib.suppress(asyncssh.Error, OSError):
            process.exit(code)


async def _run(process: asyncssh.SSHServerProcess[bytes], git: pushing.GitProcess) -> int:
    proc = await asyncio.create_subprocess_exec(
        *git.argv,
        cwd=git.cwd,
        env=git.env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
    )
    if proc.stdin is None or proc.stdout is None or proc.stderr is None:
        raise RuntimeError("git started without pipes")
    feed = asyncio.create_task(_feed(process, proc.stdin), name="ssh-to-git")
    try:
        await asyncio.gather(_copy(proc.stdout, process.stdout), _copy(proc.stderr, process.stderr))
        return await proc.wait()
    except BaseException:
        # The client went away (or the builder is stopping): stop git and its hook.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        await proc.wait()
        raise
    finally:
        feed.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await feed


async def _feed(process: asyncssh.SSHServerProcess[bytes], stdin: asyncio.StreamWriter) -> None:
    try:
        while data := await process.stdin.read(CHUNK):
            stdin.write(data)
            await stdin.drain()
    except (ConnectionError, BrokenPipeError, asyncssh.Error):
        pass
    finally:
        stdin.close()


async def _copy(source: asyncio.StreamReader, sink: asyncssh.SSHWriter[bytes]) -> None:
    while data := await source.read(CHUNK):
        sink.write(data)
        await sink.drain()
