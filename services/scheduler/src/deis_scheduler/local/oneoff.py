"""`deis run` on this host: one process in the app's current release, its output and exit code.

The command runs like any process of the app (the release's slug, config and environment, in
the app's sandbox) but is not supervised and gets no port; `app.runs` gives the rules every
backend follows (timeout, output kept, refusals).
"""

import asyncio
import logging
import uuid

from deis_scheduler.app.runs import TIMED_OUT, CannotStart, NoRelease, Output
from deis_scheduler.local import sandboxing, slugs
from deis_scheduler.local.context import LocalContext
from deis_scheduler.local.processes import LocalProcess
from deis_shared.kv import desired as desired_kv
from deis_shared.rpc import scheduler as scheduler_rpc

logger = logging.getLogger(__name__)


async def run(
    ctx: LocalContext,
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
    output = Output()
    keep = output.keep

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
    return scheduler_rpc.RunReply(exit_code=code, output=output.text(), truncated=output.truncated)
