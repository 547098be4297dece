"""A push from start to finish, and the git session that carries it.

    SSH command accepted (ssh layer)
    → authorize (controller RPC)
    → push lock for the app (waits, tells the user) → bare repo ready, hook written
    → git-receive-pack runs; its pre-receive hook calls back `Push.run`:
        ref check → build → slug stored → build.completed → release vN → rollout result
                                                          (or build.refused: the reason)
    → exit 0 lets git update the branch; anything else rejects the push

A failed build publishes `build.failed` and stores no slug, so the app's current release stays
what it was. The push waits for the rollout so that the user learns how it went; a rollout
that fails rejects the push too, so that the branch keeps naming what is running.
"""

import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from deis_builder import hookscript
from deis_builder.app import access, building, history, locks, repos
from deis_builder.app.context import Context
from deis_builder.app.prereceive import HookChannel, HookRequest
from deis_builder.buildpacks import output
from deis_builder.domain import paths, refs
from deis_builder.domain.commands import GitCommand
from deis_builder.errors import BuildFailed, Refused
from deis_shared import errors as deis_errors, rollouts
from deis_shared.bus import publishing
from deis_shared.events import build as build_events, deploy as deploy_events

logger = logging.getLogger(__name__)

LAST_LINES = 20
"""Lines of the failing process's log shown when a rollout fails."""


@dataclass(frozen=True)
class Pusher:
    """Who is on the other end of the SSH connection."""

    username: str
    fingerprint: str


@dataclass(frozen=True)
class GitProcess:
    """The git program to run for an accepted session, with its environment."""

    argv: list[str]
    env: dict[str, str]
    cwd: Path


@contextlib.asynccontextmanager
async def git_session(
    ctx: Context,
    *,
    pusher: Pusher,
    command: GitCommand,
    protocol: str | None,
    say: Callable[[str], Awaitable[None]],
) -> AsyncIterator[GitProcess]:
    """Prepare the git program for an accepted command; hold the app's push lock meanwhile.

    Args:
        ctx: The builder's context.
        pusher: The authenticated user.
        command: The parsed SSH command.
        protocol: The client's `GIT_PROTOCOL`, already checked, or `None`.
        say: Writes one line to the user's terminal (for the lock wait).

    Raises:
        Refused: The user may not use the app, or there is nothing to clone.
        PushBusy: Another push to the app kept its lock for longer than `push_lock_wait`.
    """
    app = command.app
    await access.authorize(
        ctx.nc, username=pusher.username, app=app, timeout=ctx.settings.rpc_timeout
    )
    repo = paths.repo_path(ctx.repos, app)
    env = dict(ctx.env)
    if protocol is not None:
        env["GIT_PROTOCOL"] = protocol
    if command.action == "upload-pack":
        if not (repo / "HEAD").exists():
            raise Refused(f"{app} has no repository yet: push to it first")
        yield GitProcess(argv=["git", "upload-pack", str(repo)], env=env, cwd=repo)
        return

    async def waiting() -> None:
        await say(f"another push to {app} is in progress; waiting for it to finish...")

    async with locks.push_lock(
        ctx.pool, app=app, wait=ctx.settings.push_lock_wait, on_wait=waiting
    ):
        await repos.ensure_repo(repo, env=ctx.env)
        push = Push(ctx, pusher=pusher, app=app)
        with ctx.hooks.expect(push.run) as token:
            env[hookscript.SOCKET_VARIABLE] = str(ctx.hooks.path)
            env[hookscript.TOKEN_VARIABLE] = token
            yield GitProcess(argv=["git", "receive-pack", str(repo)], env=env, cwd=repo)


class Push:
    """One push's build and outcome, run from its pre-receive hook."""

    def __init__(self, ctx: Context, *, pusher: Pusher, app: str) -> None:
        self._ctx = ctx
        self._pusher = pusher
        self._app = app
        self.id = uuid.uuid4()

    async def run(self, request: HookRequest, out: HookChannel) -> int:
        """Build, release and roll out what the hook reports; the hook's exit code."""
        ctx = self._ctx
        await history.start(
            ctx.pool,
            push_id=self.id,
            app=self._app,
            username=self._pusher.username,
            fingerprint=self._pusher.fingerprint,
        )
        outcome = history.Outcome("failed", "the push was interrupted")
        try:
            outcome = await self._run(request, out)
        finally:
            with contextlib.suppress(deis_errors.DeisError):
                await history.finish(ctx.pool, push_id=self.id, outcome=outcome)
        if outcome.result != "succeeded":
            logger.info("push %s to %s %s: %s", self.id, self._app, outcome.result, outcome.reason)
        return 0 if outcome.result == "succeeded" else 1

    async def _run(self, request: HookRequest, out: HookChannel) -> history.Outcome:
        try:
            update = refs.parse_updates(request.refs)
        except Refused as exc:
            await out.line(f"! {exc}")
            return history.Outcome("rejected", str(exc))
        ctx, app, sha = self._ctx, self._app, update.short_sha
        await history.building(ctx.pool, push_id=self.id, ref=update.ref, sha=update.new)
        await output.step(out, f"Building {app} at {sha} for {self._pusher.username}")
        try:
            built = await building.build(
                ctx, app=app, update=update, quarantine=dict(request.quarantine), out=out
            )
        except BuildFailed as exc:
            return await self._build_failed(out, sha=sha, reason=str(exc))
        except deis_errors.DeisError as exc:
            logger.exception("build %s of %s could not finish", self.id, app)
            return await self._build_failed(
                out, sha=sha, reason=f"the build could not be stored: {exc}"
            )
        await history.built(
            ctx.pool,
            push_id=self.id,
            buildpack=built.buildpack,
            slug_key=built.slug_key,
            slug_bytes=built.slug_bytes,
        )
        return await self._release(out, sha=sha, built=built)

    async def _build_failed(self, out: HookChannel, *, sha: str, reason: str) -> history.Outcome:
        await out.line(f"! {reason}")
        event = build_events.BuildFailed(
            app=self._app, build_id=self.id, sha=sha, user=self._pusher.username, reason=reason
        )
        await publishing.publish(
            self._ctx.js,
            subject=build_events.failed_subject(self._app),
            data=event,
            msg_id=str(event.id),
        )
        return history.Outcome("failed", reason)

    async def _release(
        self, out: HookChannel, *, sha: str, built: building.Built
    ) -> history.Outcome:
        ctx, app = self._ctx, self._app
        event = build_events.BuildCompleted(
            app=app,
            build_id=self.id,
            sha=sha,
            slug_key=built.slug_key,
            procfile=built.procfile,
            user=self._pusher.username,
        )
        async with rollouts.watch(ctx.nc, app=app, refusals=True) as watch:
            await publishing.publish(
                ctx.js,
                subject=build_events.completed_subject(app),
                data=event,
                msg_id=str(event.id),
            )
            await output.step(out, "Launching...")
            deadline = time.monotonic() + ctx.settings.deploy_timeout
            try:
                version = await watch.release_of(sha=sha, deadline=deadline, build_id=self.id)
            except rollouts.ReleaseRefused as exc:
                await out.line(f"! {exc}")
                return history.Outcome("failed", str(exc))
            except rollouts.NoRelease:
                reason = (
                    f"the build is stored, but no release of it was announced within "
                    f"{ctx.settings.deploy_timeout:.0f} s: see `deis releases` and `deis logs`"
                )
                await out.line(f"! {reason}")
                return history.Outcome("failed", reason)
            await output.note(out, f"released v{version}, rolling out")
            try:
                result = await watch.outcome(version=version, deadline=deadline)
            except rollouts.NoRollout:
                reason = (
                    f"v{version} was not rolled out within {ctx.settings.deploy_timeout:.0f} s: "
                    "see `deis ps` and `deis logs`"
                )
                await out.line(f"! {reason}")
                return history.Outcome("failed", reason, version)
            if isinstance(result, deploy_events.DeploySucceeded):
                route_deadline = time.monotonic() + ctx.settings.route_wait
                await watch.served(version=version, deadline=min(deadline, route_deadline))
        if isinstance(result, deploy_events.DeployFailed):
            await out.line(f"! v{version} failed to deploy: {result.reason}")
            for line in result.last_lines[-LAST_LINES:]:
                await output.note(out, line)
            return history.Outcome("failed", result.reason, version)
        await output.note(out, f"done, {app} v{version}")
        await out.line("")
        await output.step(out, f"{app} deployed to Deis")
        await output.note(out, ctx.settings.app_url(app))
        return history.Outcome("succeeded", version=version)
