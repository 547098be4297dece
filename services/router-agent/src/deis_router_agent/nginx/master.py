"""The nginx master process of local mode: started or adopted, reloaded, restarted, stopped.

nginx runs in the foreground (`daemon off`) in a session of its own: its workers stay in its
process group even when the master dies, so a restart first kills the orphaned workers (they
would hold the ports). A reload is a SIGHUP to the master: it starts workers from the new
configuration and asks the old ones to finish their connections, for at most
`worker_shutdown_timeout`. A stop is SIGQUIT (graceful), then SIGTERM, then SIGKILL.

nginx outlives its agent, so that restarting the agent (an upgrade, a crash) drops no request:
`close()` leaves it running when `keep_running` is set (the agent process sets it; only the
agent's `STOP_NGINX_SIGNAL` stops nginx too). The next agent of the same data dir finds it
through the pid file (`find_running`) and `start()` adopts it rather than starting one: a
SIGHUP, which loads that agent's first revision. Only an nginx master of this prefix and
configuration is adopted; a pid file naming anything else (a foreign nginx, a reused pid) is
cleared and nothing is signalled, and the orphaned workers of a master that died are killed.
Since nginx need not be our child, the master is watched through a pidfd (a child is also
reaped there), not as an asyncio subprocess, whose transport would kill it when collected.

A master that was killed leaves its Unix sockets behind, and nginx does not bind over them, so
they are removed before every start. Every start or adoption counts a `generation` and calls
`on_spawn`: what lives in nginx's memory alone (the balancer's endpoints) must then be sent
again (after an adoption: the agent does not know what the balancer holds).

    NEW --start()--> RUNNING --close()--> CLOSED      (close is idempotent, also before start)
"""

import asyncio
import contextlib
import enum
import logging
import os
import select
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


class MasterProcess:
    """A running nginx master seen through a pidfd: our child, or adopted (not ours to reap)."""

    def __init__(self, pid: int, *, pidfd: int, child: bool) -> None:
        self.pid = pid
        self.child = child
        self.status: str | None = None
        """How it ended, once it did."""
        self._pidfd: int | None = pidfd
        self._exited = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def running(self) -> bool:
        """Whether it was not seen to exit."""
        return self.status is None

    def exited(self) -> bool:
        """Whether it has exited by now (without the event loop: a poll of the pidfd)."""
        if self._pidfd is None:
            return not self.running
        poller = select.poll()
        poller.register(self._pidfd, select.POLLIN)
        return bool(poller.poll(0))

    def send_signal(self, sig: signal.Signals) -> bool:
        """Signal it; False when it is gone (or not ours to signal)."""
        if self._pidfd is None or not self.running:
            return False
        try:
            signal.pidfd_send_signal(self._pidfd, sig)
        except (ProcessLookupError, PermissionError):
            return False
        return True

    async def wait(self) -> str:
        """Wait until it exits; how it ended."""
        if self._loop is None and self._pidfd is not None:
            self._loop = asyncio.get_running_loop()
            self._loop.add_reader(self._pidfd, self._on_exit)
        await self._exited.wait()
        return self.status or "an unknown status"

    def _on_exit(self) -> None:
        self.status = "an unknown status (not our child)"
        if self.child:
            with contextlib.suppress(ChildProcessError):
                pid, code = os.waitpid(self.pid, os.WNOHANG)
                if pid == self.pid:
                    self.status = f"code {os.waitstatus_to_exitcode(code)}"
        self.release()
        self._exited.set()

    def release(self) -> None:
        """Stop watching it (it runs on, unseen); idempotent."""
        if self._loop is not None and self._pidfd is not None:
            self._loop.remove_reader(self._pidfd)
        if self._pidfd is not None:
            os.close(self._pidfd)
        self._pidfd = None


def _matches(cmdline: bytes, *, prefix: Path, conf: Path) -> bool:
    """Whether a command line is that of an nginx this agent's layout started.

    nginx rewrites its argv to `nginx: master process <the command>` (one string); before it
    does, arguments are NUL-separated: both read the same with NULs as spaces.
    """
    words = b" " + cmdline.replace(b"\0", b" ").strip() + b" "
    started_as = f" -p {prefix}/ -c {conf} ".encode()
    return b"nginx" in words and started_as in words


def find_running(*, pid_file: Path, prefix: Path, conf: Path) -> MasterProcess | None:
    """The nginx master of `prefix` and `conf` an earlier agent left running, if any.

    Anything else the pid file names is left alone, and the file is removed; if it names a
    master that died, that master's orphaned workers (its process group) are killed, since
    they hold the ports. Synchronous: run in a thread.
    """
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        pidfd = os.pidfd_open(pid)
    except OSError:  # gone (or never a pid)
        _kill_orphans(pid)
        pid_file.unlink(missing_ok=True)
        return None
    found = MasterProcess(pid, pidfd=pidfd, child=False)
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        cmdline = b""
    # Checked after reading: had it exited, the pid (and so the command line) could be another's.
    if found.exited() or not _matches(cmdline, prefix=prefix, conf=conf):
        found.release()
        if b"nginx" in cmdline:
            logger.warning("the pid file names nginx %d of another configuration: left alone", pid)
        _kill_orphans(pid)
        pid_file.unlink(missing_ok=True)
        return None
    logger.info("found nginx %d left running by an earlier agent", pid)
    return found


def _kill_orphans(pgid: int) -> None:
    """Kill the nginx processes left in process group `pgid` once its leader (a master) died."""
    if Path(f"/proc/{pgid}").exists():
        return  # a live leader: not a dead master's group (or not ours to judge)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            stat = (entry / "stat").read_text()
            name = stat[stat.index("(") + 1 : stat.rindex(")")]
            if name == "nginx" and int(stat[stat.rindex(")") + 2 :].split()[2]) == pgid:
                logger.warning("killing nginx workers left by a master that died (%d)", pgid)
                _kill_group(pgid, signal.SIGKILL)
                return


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
        found: MasterProcess | None = None,
        keep_running: bool = False,
    ) -> None:
        self._binary = binary
        self._sockets = sockets
        self._on_spawn = on_spawn
        self._prefix = prefix
        self._conf = conf
        self._stderr = stderr
        self._backoff_max = backoff_max
        self._found = found
        self._process: MasterProcess | None = None
        self.keep_running = keep_running
        """Whether `close()` leaves nginx running (for the next agent to adopt)."""
        self.state = MasterState.NEW
        self.restarts = 0
        """Times nginx died and was started again."""
        self.generation = 0
        """Times nginx was started or adopted (the first time included)."""
        self.adopted = False
        """Whether the nginx of the first generation was adopted rather than started."""

    @property
    def pid(self) -> int | None:
        """The master's pid while it runs."""
        process = self._process
        return process.pid if process is not None and process.running else None

    def alive(self) -> bool:
        """Whether the master process is running."""
        return self.pid is not None

    def _spawned(self) -> None:
        self.generation += 1
        if self._on_spawn is not None:
            self._on_spawn()

    def _spawn(self) -> None:
        command = [self._binary, "-p", f"{self._prefix}/", "-c", str(self._conf)]
        for path in self._sockets:
            path.unlink(missing_ok=True)
        actions = [
            (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
            (
                os.POSIX_SPAWN_OPEN,
                1,
                str(self._stderr),
                os.O_WRONLY | os.O_CREAT | os.O_APPEND,
                0o644,
            ),
            (os.POSIX_SPAWN_DUP2, 1, 2),
        ]
        # nginx gets the agent's environment, as any child does.
        environment = os.environ  # noqa: TID251
        pid = os.posix_spawnp(command[0], command, environment, file_actions=actions, setsid=True)
        self._process = MasterProcess(pid, pidfd=os.pidfd_open(pid), child=True)
        logger.info("nginx started", extra={"pid": pid})
        self._spawned()

    def _adopt(self, found: MasterProcess, *, reload: bool) -> bool:
        if found.exited():
            found.release()
            _kill_group(found.pid, signal.SIGKILL)  # its orphaned workers
            return False
        if reload and not found.send_signal(signal.SIGHUP):  # loads `current`: this agent's
            found.release()
            return False
        logger.info("adopted nginx %d left running by an earlier agent", found.pid)
        self._process = found
        self.adopted = True
        self._spawned()
        return True

    @property
    def found(self) -> bool:
        """Whether `start()` will try to adopt an nginx `find_running` found."""
        return self._found is not None

    async def start(self, *, reload: bool = True) -> None:
        """Adopt the nginx `find_running` found (a reload), or start nginx, on `current`.

        `reload=False` adopts it as it runs, without a reload: the caller knows that it already
        serves `current`. (A start, when there is nothing to adopt, loads `current` anyway.)

        Raises:
            NginxFailed: already closed, or the executable could not be run.
        """
        if self.state is not MasterState.NEW:
            raise NginxFailed(f"cannot start nginx: it is {self.state.value}")
        found, self._found = self._found, None
        if found is None or not self._adopt(found, reload=reload):
            try:
                self._spawn()
            except OSError as error:
                raise NginxFailed(f"cannot run {self._binary}: {error}") from error
        self.state = MasterState.RUNNING

    def supervised(self) -> bool:
        """Whether nginx runs, or will run again (it was started and is not closed)."""
        return self.state is MasterState.RUNNING

    def reload(self) -> bool:
        """Ask the master to load the live configuration; False if it is not running."""
        process = self._process
        return process is not None and process.send_signal(signal.SIGHUP)

    async def supervise(self) -> None:
        """Restart nginx whenever it dies, with a backoff; runs until cancelled."""
        delay = 0.1
        while True:
            process = self._process
            if process is None:
                raise NginxFailed("nginx supervised before it was started")
            status = await process.wait()
            _kill_group(process.pid, signal.SIGKILL)  # orphaned workers hold the ports
            if self.state is MasterState.CLOSED:
                # Stopped on purpose; the task is an eternal one of the service, so it waits
                # to be cancelled rather than end (which would read as a failure).
                await asyncio.Event().wait()
            logger.error("nginx exited with %s; restarting in %.1f s", status, delay)
            await asyncio.sleep(delay)
            if self.state is MasterState.CLOSED:
                continue
            try:
                self._spawn()
            except OSError:
                logger.exception("cannot restart nginx")
            else:
                self.restarts += 1
            delay = min(self._backoff_max, delay * 2)

    async def close(self, *, grace: float = 10.0) -> None:
        """Stop nginx: SIGQUIT, then SIGTERM and SIGKILL if it lingers. Idempotent.

        With `keep_running`, only stop watching it: it runs on for the next agent.
        """
        if self.state is MasterState.CLOSED:
            return
        self.state = MasterState.CLOSED
        process = self._process or self._found
        self._found = None
        if process is None:
            return
        if self.keep_running:
            process.release()
            if process.running:
                logger.info("leaving nginx %d running for the next agent", process.pid)
            return
        for sig, wait in ((signal.SIGQUIT, grace), (signal.SIGTERM, 2.0), (signal.SIGKILL, 5.0)):
            if not process.running:
                break
            if sig is signal.SIGKILL:
                _kill_group(process.pid, sig)
            else:
                process.send_signal(sig)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(process.wait(), timeout=wait)
        _kill_group(process.pid, signal.SIGKILL)
        process.release()
