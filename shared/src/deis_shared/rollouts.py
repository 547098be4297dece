"""Waiting for what follows a change: the controller's release, the scheduler's rollout, nginx.

A push (the builder) and a request that makes a release (the controller) end only when the
user can know how it went. The controller creates release `vN` (`release.<app>.created`,
naming the build's sha for a push) and the scheduler rolls it out (`deploy.<app>.succeeded` or
`.failed` for version N). Then, for a release with a web process, the waiter waits a little
more for the router to serve it (`router.applied` naming the app with version N), so that a
`curl` right after meets the new release. The watch subscribes before the change is made, so
no answer can slip by between making it and listening. A build the controller will not release
(`build.<app>.refused`) ends the wait for its release at once, with the controller's reason.

Events are the edge; a waiter may also give `outcome` a `check` of the level-triggered state
(KV `procs`), asked every `CHECK_EVERY` seconds, so that an event lost to a restart cannot
leave it waiting until its deadline.
"""

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Final

import nats.aio.client
import nats.errors
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from deis_shared import errors as deis_errors, processtypes, wire
from deis_shared.events import (
    build as build_events,
    deploy as deploy_events,
    release as release_events,
    router as router_events,
)

logger = logging.getLogger(__name__)

CHECK_EVERY: Final = 2.0
"""Seconds between looks at the level-triggered state while no event comes."""

Outcome = deploy_events.DeploySucceeded | deploy_events.DeployFailed

Check = Callable[[], Awaitable[Outcome | None]]
"""What the level-triggered state says of the rollout waited for; None: not over yet."""


class NoRelease(deis_errors.TransientError):
    """The controller announced no release of the build in time."""


class ReleaseRefused(deis_errors.PermanentError):
    """The controller refused to release the build; `str()` is its reason, for the user."""


class NoRollout(deis_errors.TransientError):
    """The scheduler reported no rollout result in time."""


@dataclass
class DeployWatch:
    """Release and deploy events of one app, collected from the moment of subscribing."""

    app: str
    _events: asyncio.Queue[Msg] = field(default_factory=asyncio.Queue)
    _releases: dict[str, int] = field(default_factory=dict)
    _refused: dict[uuid.UUID, str] = field(default_factory=dict)
    """Build id -> the controller's reason for not releasing it."""
    _outcomes: dict[int, deploy_events.DeploySucceeded | deploy_events.DeployFailed] = field(
        default_factory=dict
    )
    _formations: dict[int, dict[str, int]] = field(default_factory=dict)
    _served: int = 0
    """The newest release of the app the router said it serves."""

    async def deliver(self, msg: Msg) -> None:
        """Subscription callback: keep the message for the waiter."""
        self._events.put_nowait(msg)

    def _take(self, msg: Msg) -> None:
        try:
            if msg.subject == release_events.created_subject(self.app):
                release = wire.decode(msg.data, release_events.ReleaseCreated)
                if release.build_sha:
                    self._releases.setdefault(release.build_sha, release.version)
            elif msg.subject == build_events.refused_subject(self.app):
                refused = wire.decode(msg.data, build_events.BuildRefused)
                self._refused.setdefault(refused.build_id, refused.reason)
            elif msg.subject == deploy_events.succeeded_subject(self.app):
                ok = wire.decode(msg.data, deploy_events.DeploySucceeded)
                self._outcomes[ok.version] = ok
            elif msg.subject == deploy_events.failed_subject(self.app):
                failed = wire.decode(msg.data, deploy_events.DeployFailed)
                self._outcomes[failed.version] = failed
            elif msg.subject == deploy_events.started_subject(self.app):
                started = wire.decode(msg.data, deploy_events.DeployStarted)
                self._formations[started.version] = started.formation
            elif msg.subject == router_events.APPLIED_SUBJECT:
                applied = wire.decode(msg.data, router_events.RouterApplied)
                self._served = max(self._served, applied.versions.get(self.app, 0))
        except wire.InvalidPayload as exc:
            logger.warning("ignoring an undecodable event on %s: %s", msg.subject, exc)

    async def _next(self, deadline: float) -> None:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        self._take(await asyncio.wait_for(self._events.get(), timeout=left))

    async def release_of(
        self, *, sha: str, deadline: float, build_id: uuid.UUID | None = None
    ) -> int:
        """The version the controller gave the build of `sha`.

        Args:
            sha: The built commit (a prefix of the release's, or the other way round).
            deadline: A `time.monotonic()` value.
            build_id: The build's id in `BuildCompleted`: its refusal ends the wait.

        Raises:
            NoRelease: None announced before `deadline`.
            ReleaseRefused: The controller refused to release build `build_id`.
        """
        while (version := self._find_release(sha)) is None:
            if build_id is not None and (reason := self._refused.get(build_id)) is not None:
                raise ReleaseRefused(reason)
            try:
                await self._next(deadline)
            except TimeoutError:
                raise NoRelease("the controller announced no release of this build") from None
        return version

    def _find_release(self, sha: str) -> int | None:
        for build_sha, version in self._releases.items():
            if build_sha.startswith(sha) or sha.startswith(build_sha):
                return version
        return None

    async def outcome(
        self, *, version: int, deadline: float, check: Check | None = None
    ) -> Outcome:
        """The scheduler's result for release `version`.

        Args:
            version: the release.
            deadline: a `time.monotonic()` value.
            check: asked every `CHECK_EVERY` seconds without an event: the state's verdict.

        Raises:
            NoRollout: None reported before `deadline`.
        """
        while version not in self._outcomes:
            step = deadline if check is None else min(deadline, time.monotonic() + CHECK_EVERY)
            try:
                await self._next(step)
            except TimeoutError:
                if check is not None and (found := await check()) is not None:
                    return found
                if time.monotonic() >= deadline:
                    raise NoRollout(f"no rollout result for v{version} yet") from None
        return self._outcomes[version]

    async def served(self, *, version: int, deadline: float) -> bool:
        """Wait until the router serves release `version`, if it has a web process.

        Returns:
            Whether it is served; False when `deadline` came first (no router, say) or the
            release has nothing to route.
        """
        formation = self._formations.get(version, {})
        if not any(formation.get(kind, 0) > 0 for kind in processtypes.ROUTABLE):
            return False
        while self._served < version:
            try:
                await self._next(deadline)
            except TimeoutError:
                return False
        return True


@contextlib.asynccontextmanager
async def watch(
    nc: nats.aio.client.Client, *, app: str, refusals: bool = False
) -> AsyncIterator[DeployWatch]:
    """Collect `app`'s release and deploy events for the duration of the context.

    Args:
        nc: The connection to subscribe on.
        app: The app.
        refusals: Also collect the builds the controller refused (`build.<app>.refused`), as a
            push that waits for the release of its build does.
    """
    watcher = DeployWatch(app=app)
    subs: list[Subscription] = []
    subjects = [
        release_events.created_subject(app),
        deploy_events.app_subjects(app),
        router_events.APPLIED_SUBJECT,
    ]
    if refusals:
        subjects.append(build_events.refused_subject(app))
    try:
        for subject in subjects:
            subs.append(await nc.subscribe(subject, cb=watcher.deliver))
        await nc.flush()
        yield watcher
    finally:
        for sub in subs:
            with contextlib.suppress(nats.errors.Error):
                await sub.unsubscribe()
