"""`deis run`: one process in the app's current release, its output and exit code.

The command runs like any process of the app (the release's slug, config and environment,
as the same unprivileged user) but is not supervised and gets no port. It is killed after the
request's `timeout_seconds` (exit code 124, as `timeout(1)` reports it); its output is kept up
to `MAX_OUTPUT` bytes, so that the reply fits a NATS message.
"""

import asyncio
import logging
import uuid

from deis_scheduler.app.context import Context
from deis_scheduler.local import sandboxing, slugs
from deis_scheduler.local.processes import LocalProcess
from deis_shared.errors import PermanentError
from deis_shared.kv import desired as desired_kv
from deis_shared.rpc import scheduler as scheduler_rpc

logger = logging.getLogger(__name__)

MAX_OUTPUT = 512 * 1024
"""Bytes of output returned; NATS's default payload limit is 1 MiB."""

TIMED_OUT = 124


class NoRelease(PermanentError):
    """The app has no build to run a command in."""

    code = "no_release"


class CannotStart(PermanentError):
    """The command could not be started as given (too long, say)."""

    code = "invalid"


async def run(
    ctx: Context,
    *,
    desired: desired_kv.DesiredState | None,
    request: scheduler_rpc.RunRequest,
) -> scheduler_rpc.RunReply:
    """Run `request.command` in the release `desired` describes.

    Raises:
        NoRelease: The app is unknown here or has no build yet.
        CannotStart: The kernel refused to start the command (too long for it, say).
        SlugError: The release's slug cannot be fetched.
    """
    if desired is None or desired.build is None:
        raise NoRelease(f"{request.app} has no release with a build to run commands in")
    release = await ctx.slugs.unpack(
        app=request.app,
        version=desired.release.version,
        sha=desired.build.sha,
        slug_key=desired.build.slug_key,
    )
    env = slugs.process_env(
        release=release,
        base=ctx.base_env,
        config=desired.config,
        extra={
            "DEIS_APP": request.app,
            "WORKFLOW_RELEASE": f"v{desired.release.version}",
            "SOURCE_VERSION": desired.build.sha,
        },
    )
    output = bytearray()
    truncated = False

    def keep(line: str) -> None:
        nonlocal truncated
        data = (line + "\n").encode(errors="replace")
        room = MAX_OUTPUT - len(output)
        if len(data) > room:
            truncated = True
            data = data[:room]
        output.extend(data)

    process = LocalProcess(
        name=f"{request.app}-run-{uuid.uuid4().hex[:12]}",
        label="run.1",
        output_dir=ctx.settings.data_dir / "output" / request.app,
        run_as=None,
    )
    sandbox = sandboxing.app_sandbox(
        ctx.uids,
        app=request.app,
        release_dir=release.path,
        max_processes=ctx.settings.max_app_processes,
    )
    try:
        await process.start(
            command=request.command, cwd=release.path, env=env, on_line=keep, sandbox=sandbox
        )
    except OSError as exc:
        # E2BIG (a command and environment above the kernel's limits) and the like: the same
        # request fails the same way, so it is the caller's to change.
        raise CannotStart(f"the command could not start: {exc.strerror or exc}") from exc
    try:
        code = await asyncio.wait_for(process.wait(), timeout=request.timeout_seconds)
    except TimeoutError:
        await process.stop(grace=ctx.settings.stop_grace)
        code = TIMED_OUT
        keep(f"(killed after {request.timeout_seconds:.0f} s)")
    finally:
        await process.stop(grace=0)
    logger.info("%s ran %r for %s: exit %d", request.app, request.command, request.user, code)
    return scheduler_rpc.RunReply(
        exit_code=code, output=output.decode(errors="replace"), truncated=truncated
    )
