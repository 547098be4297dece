"""What one app's runtime tells people about its rollouts: deploy results and refusals.

Deploy results (`deploy.succeeded`, `deploy.failed`) are queued as a converge decides them and
published at its end, once `endpoints` and `procs` are out. One that cannot be published (NATS
away) stays queued and goes out at the end of the next converge that gets there, with the same
event id, so JetStream's de-duplication keeps it to one message: a release that fails for good
is reported once, however often the converge around it is retried.

A formation that cannot be applied to the live release (a scale-up or restart whose process
cannot start: a limit written around the controller, say) is no release of its own, so it gets
no deploy event. As Kubernetes keeps a ReplicaSet short and says why in its events, the formation
stays short (each converge tries again) and the reason is logged and written to the app's log
(`deis logs`, process `scheduler`), once per distinct reason.
"""

import logging
from dataclasses import dataclass
from typing import Final, Protocol

from deis_scheduler.app import facts
from deis_shared.bus import connection
from deis_shared.events import deploy as deploy_events

logger = logging.getLogger(__name__)

DeployResult = deploy_events.DeploySucceeded | deploy_events.DeployFailed

PLATFORM_PROCESS: Final = "scheduler"
"""The process name the scheduler's own lines in an app's log carry."""


class AppLog(Protocol):
    """Where lines for an app's log go (`deis logs`)."""

    def line(self, *, app: str, process: str, message: str) -> None:
        """Send `message` as a line of `app`'s log, written by `process`; never blocks."""
        ...


@dataclass(frozen=True)
class _Queued:
    subject: str
    value: DeployResult


class Reports:
    """The deploy results of one app not yet published, and its last refusal."""

    def __init__(self, *, app: str, js: connection.JetStream, log: AppLog) -> None:
        """Report about `app` through `js` (events) and `log` (the app's log)."""
        self._app = app
        self._js = js
        self._log = log
        self._queue: list[_Queued] = []
        self._refusal: str | None = None

    def succeeded(self, value: deploy_events.DeploySucceeded) -> None:
        """Queue `deploy.succeeded` for the end of the converge."""
        self._queue.append(_Queued(deploy_events.succeeded_subject(self._app), value))

    def failed(self, value: deploy_events.DeployFailed) -> None:
        """Queue `deploy.failed` for the end of the converge."""
        self._queue.append(_Queued(deploy_events.failed_subject(self._app), value))

    async def flush(self) -> None:
        """Publish the queued results, oldest first.

        Raises:
            BusUnavailable: NATS did not acknowledge one; it and those after it stay queued.
        """
        while self._queue:
            first = self._queue[0]
            await facts.event(self._js, subject=first.subject, value=first.value)
            self._queue.pop(0)

    def forget(self) -> None:
        """Drop what is queued: the app is gone."""
        self._queue.clear()
        self._refusal = None

    def refused(self, reason: str) -> None:
        """Say that the formation cannot be applied, and why (in the app's log once)."""
        logger.warning("%s: %s", self._app, reason)
        if reason != self._refusal:
            self._log.line(app=self._app, process=PLATFORM_PROCESS, message=reason)
        self._refusal = reason

    def applied(self) -> None:
        """The formation applies again: the next refusal is news."""
        self._refusal = None
