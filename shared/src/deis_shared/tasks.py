"""Named, held, supervised background tasks with a spelled-out shutdown.

Every background task of a service is started through `Supervisor.spawn`, which names it, keeps
a reference (so it is never garbage-collected mid-flight) and watches how it ends. An *eternal*
task (a consumer loop, a watcher, a relay) that ends while the service is running, by
returning or by raising, is fatal: the supervisor records why and sets `failed`, and the service
runner shuts the process down rather than limp on without it. A one-shot task that raises is
logged and forgotten.
"""

import asyncio
import enum
import logging
from collections.abc import Coroutine
from typing import Any

logger = logging.getLogger(__name__)


class SupervisorState(enum.Enum):
    """Lifecycle of a supervisor: tasks may be spawned only while RUNNING."""

    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"


class Supervisor:
    """Owner of a service's background tasks."""

    def __init__(self) -> None:
        self.state = SupervisorState.RUNNING
        self.failed = asyncio.Event()
        """Set when an eternal task ended on its own: the service must stop."""
        self.failure: str | None = None
        """Why `failed` was set, for the exit log line."""
        self._tasks: dict[asyncio.Task[Any], bool] = {}

    @property
    def names(self) -> list[str]:
        """Names of the tasks still running, sorted."""
        return sorted(task.get_name() for task in self._tasks)

    def spawn(
        self, coro: Coroutine[Any, Any, Any], *, name: str, eternal: bool = True
    ) -> asyncio.Task[Any]:
        """Start `coro` as a task called `name` and watch it.

        Args:
            coro: the work.
            name: a name that says what the task does, shown in logs and leak reports.
            eternal: whether the task should run as long as the service does.

        Returns:
            The task.

        Raises:
            RuntimeError: the supervisor is stopping or stopped.
        """
        if self.state is not SupervisorState.RUNNING:
            coro.close()
            raise RuntimeError(f"cannot start task {name!r}: supervisor is {self.state.value}")
        task = asyncio.create_task(coro, name=name)
        self._tasks[task] = eternal
        task.add_done_callback(self._on_done)
        return task

    def _on_done(self, task: asyncio.Task[Any]) -> None:
        eternal = self._tasks.pop(task, False)
        if self.state is not SupervisorState.RUNNING:
            return
        name = task.get_name()
        if task.cancelled():
            reason = f"task {name!r} was cancelled"
        elif (exc := task.exception()) is not None:
            reason = f"task {name!r} failed: {exc!r}"
            logger.error(reason, exc_info=exc, extra={"task": name})
        elif eternal:
            reason = f"task {name!r} ended"
        else:
            return
        if eternal and not self.failed.is_set():
            logger.critical("eternal task ended; stopping the service", extra={"task": name})
            self.failure = reason
            self.failed.set()

    def quiesce(self) -> None:
        """Enter shutdown without cancelling: tasks that now end on their own are not failures.

        The runner calls this before closing workers gracefully (the outbox relay finishes its
        round instead of being cancelled mid-query); `stop` then cancels whatever remains.
        """
        if self.state is SupervisorState.RUNNING:
            self.state = SupervisorState.STOPPING

    async def stop(self, *, grace: float) -> None:
        """Cancel every task and wait up to `grace` seconds for them to finish.

        Safe to call twice. Tasks still running after the deadline are reported and left to
        the event loop's shutdown.
        """
        if self.state is SupervisorState.STOPPED:
            return
        self.state = SupervisorState.STOPPING
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            done, pending = await asyncio.wait(tasks, timeout=grace)
            for task in done:
                if not task.cancelled() and (exc := task.exception()) is not None:
                    logger.warning(
                        "task failed while stopping", exc_info=exc, extra={"task": task.get_name()}
                    )
            if pending:
                logger.error(
                    "tasks did not stop in time",
                    extra={"tasks": sorted(t.get_name() for t in pending)},
                )
        self._tasks.clear()
        self.state = SupervisorState.STOPPED
