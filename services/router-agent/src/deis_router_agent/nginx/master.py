"""The nginx master process of local mode: started, reloaded, restarted when it dies, stopped.

nginx runs in the foreground (`daemon off`) as the agent's child, in a process group of its
own: its workers stay in that group even when the master dies, so a restart first kills the
orphaned workers (they would hold the ports) and a stop leaves nothing behind. A reload is a
SIGHUP to the master: it starts workers from the new configuration and asks the old ones to
finish their connections, for at most `worker_shutdown_timeout`. A stop is SIGQUIT (graceful),
then SIGTERM, then SIGKILL. An nginx left running by an agent that was killed is found through
the pid file at start and stopped.

A master that was killed leaves its Unix sockets behind, and nginx does not bind over them, so
they are removed before every start. Every start counts a `generation` and calls `on_spawn`:
what lives in nginx's memory alone (the balancer's endpoints) must then be sent again.

    NEW --start()--> RUNNING --close()--> CLOSED      (close is idempotent, also before start)
"""

import asyncio
import contextlib
import enum
import logging
import os
import signal
from collections.abc import Callable
from pathlib import Path

from deis_router_agent.errors import NginxFailed

logger = logging.getLogger(__name__)


class MasterState(enum.Enum):
    """Where the master is in its life."""

    NEW = "new"
    RUNNING = "running"
    CLOSED = "closed"


def _kill_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def stop_stale(pid_file: Path) -> None:
    """Kill an nginx (and its workers) left by an earlier agent, as named by its pid file."""
    try:
        pid = int(pid_file.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return
    if b"nginx" in cmdline:
        logger.warning("stopping nginx %d left by an earlier agent", pid)
        _kill_group(pid, signal.SIGKILL)
    pid_file.unlink(missing_ok=True)


class NginxMaster:
    """One supervised nginx master running `conf` under `prefix`."""

    def __init__(
        self,
        *,
        binary: str,
        prefix: Path,
        conf: Path,
        stderr: Path,
        backoff_max: float,
        sockets: tuple[Path, ...] = (),
        on_spawn: Callable[[], None] | None = None,
    ) -> None:
        self._binary = binary
        self._sockets = sockets
        self._on_spawn = on_spawn
        self._prefix = prefix
        self._conf = conf
        self._stderr = stderr
        self._backoff_max = backoff_max
        self._process: asyncio.subprocess.Process | None = None
        self.state = MasterState.NEW
        self.restarts = 0
        """Times nginx died and was started again."""
        self.generation = 0
        """Times nginx was started (first start included)."""

    @property
    def pid(self) -> int | None:
        """The master's pid while it runs."""
        process = self._process
        return process.pid if process is not None and process.returncode is None else None

    def alive(self) -> bool:
        """Whether the master process is running."""
        return self.pid is not None

    async def _spawn(self) -> None:
        command = [self._binary, "-p", f"{self._prefix}/", "-c", str(self._conf)]
        for path in self._sockets:
            path.unlink(missing_ok=True)
        with self._stderr.open("ab") as stderr:
            self._process = await asyncio.create_subprocess_exec(
                *command,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=stderr,
                stderr=stderr,
                start_new_session=True,
            )
        logger.info("nginx started", extra={"pid": self._process.pid})
        self.generation += 1
        if self._on_spawn is not None:
            self._on_spawn()

    async def start(self) -> None:
        """Start nginx on the live configuration.

        Raises:
            NginxFailed: already closed, or the executable could not be run.
        """
        if self.state is not MasterState.NEW:
            raise NginxFailed(f"cannot start nginx: it is {self.state.value}")
        try:
            await self._spawn()
        except OSError as error:
            raise NginxFailed(f"cannot run {self._binary}: {error}") from error
        self.state = MasterState.RUNNING

    def supervised(self) -> bool:
        """Whether nginx runs, or will run again (it was started and is not closed)."""
        return self.state is MasterState.RUNNING

    def reload(self) -> bool:
        """Ask the master to load the live configuration; False if it is not running."""
        pid = self.pid
        if pid is None:
            return False
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGHUP)
            return True
        return False

    async def supervise(self) -> None:
        """Restart nginx whenever it dies, with a backoff; runs until cancelled."""
        delay = 0.1
        while True:
            process = self._process
            if process is None:
                raise NginxFailed("nginx supervised before it was started")
            code = await process.wait()
            _kill_group(process.pid, signal.SIGKILL)  # orphaned workers hold the ports
            if self.state is MasterState.CLOSED:
                # Stopped on purpose; the task is an eternal one of the service, so it waits
                # to be cancelled rather than end (which would read as a failure).
                await asyncio.Event().wait()
            logger.error("nginx exited with %s; restarting in %.1f s", code, delay)
            await asyncio.sleep(delay)
            if self.state is MasterState.CLOSED:
                continue
            try:
                await self._spawn()
            except OSError:
                logger.exception("cannot restart nginx")
            else:
                self.restarts += 1
            delay = min(self._backoff_max, delay * 2)

    async def close(self, *, grace: float = 10.0) -> None:
        """Stop nginx: SIGQUIT, then SIGTERM and SIGKILL if it lingers. Idempotent."""
        if self.state is MasterState.CLOSED:
            return
        self.state = MasterState.CLOSED
        process = self._process
        if process is None:
            return
        for sig, wait in ((signal.SIGQUIT, grace), (signal.SIGTERM, 2.0), (signal.SIGKILL, 5.0)):
            if process.returncode is not None:
                break
            if sig is signal.SIGKILL:
                _kill_group(process.pid, sig)
            else:
                _signal(process, sig)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(process.wait(), timeout=wait)
        _kill_group(process.pid, signal.SIGKILL)


def _signal(process: asyncio.subprocess.Process, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(sig)
