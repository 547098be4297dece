"""Start processes in order, each once the one before is ready; restart any that dies.

A `Component` is one long-running process: PostgreSQL, nats-server, a platform service. Start
goes in waves (the services need NATS and Postgres up, but not each other): every component of
a wave is spawned at once, and the next wave starts when each is ready, by its probe, within
its deadline; a component that dies before it is ready fails the whole start, with the last
lines of its log. Once everything runs, `watch` polls the processes and restarts one that exits,
after a backoff doubling from 1 s to `BACKOFF_MAX`, until told to stop; `stop` ends them in
reverse order (the stop signal, a grace period, then SIGKILL). Each process writes to its own
log file, appended across restarts.
"""

import logging
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from deisctl.errors import CtlError

logger = logging.getLogger(__name__)

BACKOFF_MAX = 30.0
"""Longest wait before restarting a process that died."""

HEALTHY_RUN = 60.0
"""Seconds a process must have run for its next death to count as a first one again: the
backoff starts over at 1 s instead of going on doubling from an old crash loop."""

POLL = 0.05
"""Seconds between readiness probes while starting."""


@dataclass
class Component:
    """One supervised process."""

    name: str
    command: list[str]
    env: Mapping[str, str]
    ready: Callable[[], bool]
    """Whether the process serves (a port answers, `/readyz` says 200)."""
    log: Path
    user: str | None = None
    """Run as this user (PostgreSQL under root); None: as ourselves."""
    cwd: Path | None = None
    stop_signal: signal.Signals = signal.SIGTERM
    start_timeout: float = 60.0
    wave: int = 0
    """Components of one wave start together; a wave waits for the ones before."""
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    restarts: int = 0
    in_a_row: int = 0
    """Deaths since the process last ran `HEALTHY_RUN` seconds: the backoff's exponent."""
    started: float | None = None
    """When the process was last started (monotonic seconds)."""
    due: float | None = None
    """When a dead process is to be started again."""

    @property
    def pid(self) -> int | None:
        """The running process's pid."""
        return self.process.pid if self.running and self.process is not None else None

    @property
    def running(self) -> bool:
        """Whether the process is alive."""
        return self.process is not None and self.process.poll() is None

    def spawn(self) -> None:
        """Start the process, its output appended to its log."""
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self.started = time.monotonic()
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                self.command,
                env=dict(self.env),
                cwd=self.cwd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                user=self.user,
                start_new_session=True,
            )

    def last_lines(self, count: int = 15) -> str:
        """The end of its log, for an error message."""
        try:
            lines = self.log.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(lines[-count:])


class Supervisor:
    """The platform's processes, in start order."""

    def __init__(self, components: list[Component]) -> None:
        """Supervise `components`, started in the order given."""
        self.components = components

    def start(self, *, on_ready: Callable[[Component], None] = lambda _: None) -> None:
        """Start every component, each once the one before is ready.

        Raises:
            CtlError: one died or was not ready in time; the started ones are stopped again.
        """
        try:
            for wave in sorted({c.wave for c in self.components}):
                starting = [c for c in self.components if c.wave == wave]
                for component in starting:
                    component.spawn()
                for component in starting:
                    self._wait_ready(component)
                    on_ready(component)
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, component: Component) -> None:
        deadline = time.monotonic() + component.start_timeout
        while not component.ready():
            if not component.running:
                raise CtlError(
                    f"{component.name} exited while starting; the end of {component.log}:\n"
                    + component.last_lines()
                )
            if time.monotonic() > deadline:
                raise CtlError(
                    f"{component.name} was not ready after {component.start_timeout:.0f} s;"
                    f" the end of {component.log}:\n" + component.last_lines()
                )
            time.sleep(POLL)

    def watch(self, *, stopping: Callable[[], bool], on_change: Callable[[], None]) -> None:
        """Restart processes that exit, until `stopping()` says so."""
        while not stopping():
            now = time.monotonic()
            for component in self.components:
                if component.running:
                    continue
                if component.due is None:
                    assert component.process is not None
                    if component.started is not None and now - component.started >= HEALTHY_RUN:
                        component.in_a_row = 0
                    component.restarts += 1
                    component.in_a_row += 1
                    wait = min(BACKOFF_MAX, 2.0 ** (component.in_a_row - 1))
                    component.due = now + wait
                    logger.warning(
                        "%s exited with %s; restarting in %.0f s",
                        component.name,
                        component.process.returncode,
                        wait,
                    )
                elif now >= component.due:
                    component.due = None
                    component.spawn()
                    on_change()
            time.sleep(0.2)

    def stop(self, *, grace: float = 20.0) -> None:
        """Stop every process, last started first; idempotent."""
        for component in reversed(self.components):
            process = component.process
            if process is None or process.poll() is not None:
                continue
            try:
                process.send_signal(component.stop_signal)
                process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                logger.warning("%s did not stop within %.0f s: killing it", component.name, grace)
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
