"""One OS process of an app: a Procfile command in a group of its own, which may outlive us.

A process started by one scheduler can be adopted by the next one.

The command runs as `/bin/sh -c <command>`, as Procfile commands expect a shell (`$PORT`,
`&&`). The child leads a new session, so its pid is its process group's id and a stop reaches
everything it spawned: SIGTERM to the group, `grace` seconds, then SIGKILL to the group. When
the leader exits on its own, what is left of its group is killed too: an app process is its
whole group, and nothing of it may outlive it. A process that leaves its group (`setsid`, a
daemonising double fork) escapes this.

Output goes through two FIFOs (named pipes) under `output_dir`, not anonymous pipes. The
child's stdout and stderr are the FIFOs opened read-write, so the child itself holds each FIFO
open for reading: when the scheduler goes away the app never gets SIGPIPE, and what it writes
meanwhile waits in the pipe (`PIPE_SIZE` per stream); only beyond that do its writes block,
until a scheduler reads again. A restarted scheduler `adopt`s the process: it checks that the
pid still names the same process (its start time in `/proc`), opens the FIFOs and reads on.
`detach` is the other half: the scheduler stops reading and watching, the process runs on.

Exits are watched through a pidfd (Linux 5.3+), which works for the scheduler's own children
and for adopted processes alike. Only a child's exit code can be known (`waitpid`); an adopted
process's reads as None. Reading output needs no task: asyncio's read-pipe transport calls
`on_line` from the event loop, in chunks, so no line length can overrun a buffer; lines longer
than `MAX_LINE` bytes are passed on in pieces.

An app's process starts in its sandbox (`deis_shared.sandbox`: bubblewrap, the app's own user
id, its own mount and PID namespaces, a process-count cap). bwrap then leads the group: a stop
sends SIGTERM to every other member of the group (bwrap would die of it at once, and the
scheduler would take the command's graceful stop for an exit), and the group's SIGKILL as
before. The sandbox waits on a pipe (`--block-fd`) until the scheduler has run `prepare` on the
group's processes (moved them into a CPU cgroup), so no process of the app runs outside its
limits. Without a sandbox (the scheduler's own tests of this module), the command runs as
`run_as`, or as the scheduler's own user.
"""

import asyncio
import contextlib
import enum
import fcntl
import logging
import os
import pwd
import signal
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Final, Literal

from deis_shared import sandbox as sandboxes

logger = logging.getLogger(__name__)

MAX_LINE: Final = 16 * 1024
"""Bytes of one output line passed on at once; longer lines are split."""

PIPE_SIZE: Final = 1024 * 1024
"""Bytes each output FIFO holds while nobody reads it (Linux's default cap for a pipe)."""

SHELL: Final = "/bin/sh"
"""The shell that runs Procfile commands."""

PRLIMIT: Final = "prlimit"
"""util-linux's prlimit, which starts the command under the given resource limits."""

UNPRIVILEGED_USER: Final = "nobody"
"""Who app processes run as when the scheduler is root."""

PUMP_DRAIN: Final = 1.0
"""Seconds to wait for the output FIFOs to close once the group is killed, before closing them."""

STREAMS: Final = ("out", "err")
"""The FIFOs of a process: `<output_dir>/<name>.out` and `.err`."""


class _Default(enum.Enum):
    USER = "default"


@dataclass(frozen=True)
class Identity:
    """What names one OS process across pid reuse: its pid and its start time since boot."""

    pid: int
    start_ticks: int
    """Field 22 of `/proc/<pid>/stat`: clock ticks from boot to the process's start."""


def default_user() -> str | None:
    """Who processes run as unless told otherwise: `nobody` when root, else the same user."""
    return UNPRIVILEGED_USER if os.geteuid() == 0 else None


def start_ticks(pid: int) -> int | None:
    """When process `pid` started (clock ticks since boot), or None if it is gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may hold anything, spaces included.
    fields = stat[stat.rfind(")") + 2 :].split()
    if fields[0] in ("Z", "X"):
        return None
    return int(fields[19])


class LocalProcess:
    """One OS process, started or adopted at most once; `stop` and `detach` are idempotent."""

    def __init__(
        self,
        *,
        name: str,
        label: str,
        output_dir: Path,
        run_as: str | None | Literal[_Default.USER] = _Default.USER,
        sandboxed: bool = False,
    ) -> None:
        """Describe a process to be started or adopted.

        Args:
            name: the process's full name (`<app>-<type>-v<release>-<index>`), for logs and
                its FIFOs' names.
            label: `<type>.<index>` (`web.1`), for messages.
            output_dir: where its output FIFOs live (created on start, private to the
                scheduler).
            run_as: the user to run as; `None` runs as the scheduler's own user; by default
                `nobody` when the scheduler is root, otherwise the scheduler's own user.
                Unused when started in a sandbox.
            sandboxed: whether the process runs in a sandbox (bwrap leads its group); `start`
                with a sandbox sets it, an adopted process is told.
        """
        self.name = name
        self.label = label
        self.output_dir = output_dir
        self.run_as = default_user() if run_as is _Default.USER else run_as
        self.sandboxed = sandboxed
        self.identity: Identity | None = None
        """Set once started or adopted."""
        self._child = False
        self._pidfd: int | None = None
        self._exited: asyncio.Future[int | None] | None = None
        self._outputs: list[_Output] = []
        self._transports: list[asyncio.ReadTransport] = []
        self._finishing = asyncio.Lock()
        self._finished = False
        self._detached = False
        self._readers: list[int] = []

    @property
    def pid(self) -> int | None:
        """The process id (and process group id), once started or adopted."""
        return self.identity.pid if self.identity is not None else None

    @property
    def returncode(self) -> int | None:
        """The exit code once it has exited (negative: killed by that signal), else None.

        Also None for an adopted process that exited: only a parent learns exit codes.
        """
        if self._exited is None or not self._exited.done():
            return None
        return self._exited.result()

    @property
    def exited(self) -> bool:
        """Whether it was started or adopted and has exited since (as far as we watched)."""
        return self._exited is not None and self._exited.done()

    @property
    def running(self) -> bool:
        """Whether it was started or adopted, has not exited, and is not detached."""
        return self._exited is not None and not self._exited.done() and not self._detached

    def fifo(self, stream: str) -> Path:
        """Path of the FIFO of `stream` (`out` or `err`)."""
        return self.output_dir / f"{self.name}.{stream}"

    async def start(
        self,
        *,
        command: str,
        cwd: Path,
        env: Mapping[str, str],
        on_line: Callable[[str], None],
        memory_bytes: int | None = None,
        sandbox: sandboxes.Sandbox | None = None,
        prepare: Callable[[Sequence[int]], None] | None = None,
    ) -> None:
        """Start the command; its output goes to `on_line` from now on.

        Args:
            command: a Procfile command, run by `/bin/sh -c`.
            cwd: the working directory (readable by `run_as`).
            env: the process's whole environment.
            on_line: called with each line of stdout and stderr (decoded, undecodable bytes
                replaced, line ending stripped); it must return quickly and not raise.
            memory_bytes: a cap on the process's data memory (`RLIMIT_DATA`, set by
                `prlimit`, inherited by its children); `None` for none.
            sandbox: where the command runs (`cwd` is then only where the sandbox starts
                from; its working directory is the sandbox's); `None` runs it unconfined.
            prepare: called with the pids of the process's group before the command runs
                (in a sandbox: bwrap's two processes; else the shell, which may have started).

        Raises:
            OSError: the process could not be started: `cwd` is missing, or `run_as` names
                no user. (The change of directory happens before the change of user, so an
                unreadable `cwd` is not refused here: the app fails reading it.)
            RuntimeError: it was started or adopted before.
        """
        if self._exited is not None:
            raise RuntimeError(f"{self.label} was started already")
        shell = [SHELL, "-c", command]
        gate: tuple[int, int] | None = None
        if sandbox is not None:
            gate = os.pipe()
            confined = sandboxes.confine(
                shell, replace(sandbox, memory_bytes=memory_bytes, block_fd=gate[0])
            )
            argv, user, group = confined.argv, confined.uid, confined.gid
            extra_groups: list[int] | None = [] if user is not None else None
            self.sandboxed = True
        else:
            user, group, extra_groups = _identity(self.run_as, label=self.label)
            limits = [] if memory_bytes is None else [PRLIMIT, f"--data={memory_bytes}", "--"]
            argv = [*limits, *shell]
        try:
            child = await self._spawn(
                argv,
                cwd=cwd,
                env=env,
                user=user,
                group=group,
                extra_groups=extra_groups,
                pass_fds=(gate[0],) if gate is not None else (),
            )
        finally:
            if gate is not None:
                os.close(gate[0])
        ticks = start_ticks(child.pid)
        self.identity = Identity(pid=child.pid, start_ticks=ticks if ticks is not None else -1)
        self._child = True
        self._watch_exit()
        try:
            await self._read(self._readers, on_line)
            if prepare is not None:
                seen = group_members(child.pid)
                prepare(seen)
                # bwrap may have forked between the look and the move: its child is then in
                # neither; a second look catches it (later children follow their parent).
                if later := [pid for pid in group_members(child.pid) if pid not in seen]:
                    prepare(later)
        finally:
            if gate is not None:
                with contextlib.suppress(OSError):  # the sandbox died already
                    os.write(gate[1], b"go")
                os.close(gate[1])

    async def _spawn(
        self,
        argv: list[str],
        *,
        cwd: Path,
        env: Mapping[str, str],
        user: int | None,
        group: int | None,
        extra_groups: list[int] | None,
        pass_fds: Sequence[int],
    ) -> "_Child":
        """Start `argv` in a session of its own, its output into fresh FIFOs."""
        writers = await asyncio.to_thread(self._make_fifos)
        try:
            readers = [_open_reader(self.fifo(stream)) for stream in STREAMS]
            try:
                child = _Child(
                    argv,
                    cwd=cwd,
                    env=dict(env),
                    stdin=subprocess.DEVNULL,
                    stdout=writers[0],
                    stderr=writers[1],
                    start_new_session=True,
                    user=user,
                    group=group,
                    extra_groups=extra_groups,
                    pass_fds=pass_fds,
                )
            except BaseException:
                for fd in readers:
                    os.close(fd)
                raise
        finally:
            for fd in writers:
                os.close(fd)
        self._readers = readers
        return child

    async def adopt(self, identity: Identity, *, on_line: Callable[[str], None]) -> bool:
        """Take over a process a previous scheduler started, if it still runs.

        Args:
            identity: the process as the previous scheduler recorded it.
            on_line: as for `start`; lines written while nobody read arrive first.

        Returns:
            Whether it runs and is now watched; False if it is gone (or its pid names another
            process now), and then this object stays unused.

        Raises:
            RuntimeError: it was started or adopted before.
        """
        if self._exited is not None:
            raise RuntimeError(f"{self.label} was started already")
        pidfd = open_if_same(identity)
        if pidfd is None:
            return False
        self.identity = identity
        self._watch_exit(pidfd)
        readers: list[int] = []
        for stream in STREAMS:
            try:
                readers.append(_open_reader(self.fifo(stream)))
            except OSError as exc:
                logger.warning("%s: its %s output cannot be read: %s", self.name, stream, exc)
        await self._read(readers, on_line)
        return True

    async def wait(self) -> int | None:
        """Wait until it exits, then until its output is passed on.

        Returns:
            The exit code (negative when killed by a signal); None for an adopted process.

        Raises:
            RuntimeError: it was never started nor adopted.
        """
        if self._exited is None:
            raise RuntimeError(f"{self.label} was never started")
        # Shielded: a cancelled waiter must not cancel the future other waiters share.
        code = await asyncio.shield(self._exited)
        await self._finish()
        return code

    async def stop(self, *, grace: float) -> int | None:
        """Stop it: SIGTERM to its group, then SIGKILL to the group after `grace` seconds.

        Safe to call twice, before `start` and after it exited. If the caller is cancelled
        meanwhile, the group is killed at once and the cancellation goes on.

        Args:
            grace: seconds between SIGTERM and SIGKILL.

        Returns:
            The exit code (negative when killed by a signal), or None if never started, if
            adopted, or if detached.
        """
        exited, pid = self._exited, self.pid
        if exited is None or pid is None or self._detached:
            return None
        try:
            if not exited.done():
                if self.sandboxed:
                    signal_members(pid, signal.SIGTERM)
                else:
                    _signal_group(pid, signal.SIGTERM)
                try:
                    async with asyncio.timeout(grace):
                        await asyncio.shield(exited)
                except TimeoutError:
                    logger.warning("%s did not stop within %s s: killing it", self.name, grace)
                    _signal_group(pid, signal.SIGKILL)
                    await asyncio.shield(exited)
            await self._finish()
        except BaseException:
            _signal_group(pid, signal.SIGKILL)
            self._close()  # the group is dying: its last lines are not waited for
            raise
        return self.returncode

    def detach(self) -> None:
        """Stop reading its output and watching it; the process runs on. Idempotent."""
        if self._detached or self._exited is None or self._finished:
            return
        self._detached = True
        self._unwatch()
        for transport in self._transports:
            transport.close()

    def _make_fifos(self) -> list[int]:
        """Fresh FIFOs for this start; returns their read-write ends, sized `PIPE_SIZE`."""
        self.output_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        fds = []
        for stream in STREAMS:
            path = self.fifo(stream)
            path.unlink(missing_ok=True)
            os.mkfifo(path, 0o600)
            fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
            with contextlib.suppress(OSError):
                fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_SIZE)
            fds.append(fd)
        return fds

    def _watch_exit(self, pidfd: int | None = None) -> None:
        assert self.identity is not None
        loop = asyncio.get_running_loop()
        self._exited = loop.create_future()
        self._pidfd = pidfd if pidfd is not None else os.pidfd_open(self.identity.pid)
        loop.add_reader(self._pidfd, self._on_exit)

    def _on_exit(self) -> None:
        assert self.identity is not None
        assert self._exited is not None
        self._unwatch()
        code: int | None = None
        if self._child:
            with contextlib.suppress(ChildProcessError):
                pid, status = os.waitpid(self.identity.pid, os.WNOHANG)
                if pid:
                    code = os.waitstatus_to_exitcode(status)
        if not self._exited.done():
            self._exited.set_result(code)

    def _unwatch(self) -> None:
        if self._pidfd is not None:
            asyncio.get_running_loop().remove_reader(self._pidfd)
            os.close(self._pidfd)
            self._pidfd = None

    async def _read(self, fds: list[int], on_line: Callable[[str], None]) -> None:
        for fd in fds:
            output = _Output(on_line, label=self.label)
            # Not a file read: wrapping a FIFO's descriptor, which the transport reads and closes.
            pipe = open(fd, "rb", buffering=0)  # noqa: SIM115, ASYNC230
            transport, _ = await asyncio.get_running_loop().connect_read_pipe(output.itself, pipe)
            self._outputs.append(output)
            self._transports.append(transport)

    async def _finish(self) -> None:
        """After the leader exited: kill the rest of its group, read the last of its output."""
        assert self.identity is not None
        async with self._finishing:
            if self._finished:
                return
            try:
                # While members remain, the group id cannot be reused by another process.
                _signal_group(self.identity.pid, signal.SIGKILL)
                async with asyncio.timeout(PUMP_DRAIN):
                    await asyncio.gather(*(asyncio.shield(o.closed) for o in self._outputs))
            except TimeoutError:
                logger.warning("%s: output still open after its group was killed", self.name)
            finally:
                self._close()

    def _close(self) -> None:
        for transport in self._transports:
            transport.close()
        for stream in STREAMS:
            self.fifo(stream).unlink(missing_ok=True)
        self._finished = True


class _Child(subprocess.Popen[bytes]):
    """A child whose exit the scheduler watches and reaps itself (pidfd, then `waitpid`).

    `Popen.__del__` would warn about a child still running, which is the point here: an app
    process outlives the object that started it, and may outlive the scheduler.
    """

    def __del__(self) -> None:
        pass


class _Output(asyncio.Protocol):
    """Splits one output FIFO into lines; tells when it closed (every writer gone)."""

    def __init__(self, on_line: Callable[[str], None], *, label: str) -> None:
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._on_line = on_line
        self._label = label
        self._pending = bytearray()

    def itself(self) -> "_Output":
        """The protocol factory handing out this very protocol."""
        return self

    def data_received(self, data: bytes) -> None:
        pending = self._pending
        pending += data
        while (end := pending.find(b"\n")) >= 0 or len(pending) >= MAX_LINE:
            if 0 <= end <= MAX_LINE:
                self._deliver(pending[:end])
                del pending[: end + 1]
            else:
                self._deliver(pending[:MAX_LINE])
                del pending[:MAX_LINE]

    def eof_received(self) -> None:
        if self._pending:
            self._deliver(self._pending)
            self._pending.clear()

    def connection_lost(self, exc: Exception | None) -> None:  # noqa: ARG002 -- asyncio's signature
        if not self.closed.done():
            self.closed.set_result(None)

    def _deliver(self, raw: bytearray) -> None:
        text = bytes(raw).decode(errors="replace").removesuffix("\r")
        try:
            self._on_line(text)
        except Exception:  # a faulty callback must not stop the output, which would block the app
            logger.exception("output callback of %s failed", self._label)


def _open_reader(path: Path) -> int:
    """The scheduler's end of a FIFO: read-only, non-blocking (it opens without a writer)."""
    return os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)


def open_if_same(identity: Identity) -> int | None:
    """A pidfd of the process `identity` names, if it still runs and leads its group; else None.

    The caller closes it. It is how a recorded pid is trusted again: never by its number alone.
    """
    if not _same(identity):
        return None
    try:
        pidfd = os.pidfd_open(identity.pid)
    except ProcessLookupError:
        return None
    if not _same(identity):  # the pid was reused between the check and pidfd_open
        os.close(pidfd)
        return None
    return pidfd


def _same(identity: Identity) -> bool:
    """Whether `identity.pid` still names the recorded process, and it leads its group."""
    if start_ticks(identity.pid) != identity.start_ticks:
        return False
    try:
        return os.getpgid(identity.pid) == identity.pid
    except ProcessLookupError:
        return False


def _identity(run_as: str | None, *, label: str) -> tuple[int | None, int | None, list[int] | None]:
    """The `user`, `group` and `extra_groups` that switch to `run_as`, if another user."""
    if run_as is None:
        return None, None, None
    try:
        user = pwd.getpwnam(run_as)
    except KeyError:
        raise OSError(f"cannot start {label}: no user named {run_as!r}") from None
    if user.pw_uid == os.geteuid():
        return None, None, None
    # Without extra_groups=[], the child would keep the scheduler's supplementary groups.
    return user.pw_uid, user.pw_gid, []


def _signal_group(pgid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def group_members(pgid: int) -> list[int]:
    """The pids of the processes in group `pgid`, the leader first if it is there."""
    members = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        if int(stat[stat.rfind(")") + 2 :].split()[2]) == pgid:
            members.append(int(entry.name))
    return sorted(members, key=lambda pid: pid != pgid)


def signal_members(pgid: int, signum: signal.Signals) -> None:
    """Signal every process of group `pgid` but its leader (bwrap, which would just die)."""
    for pid in group_members(pgid):
        if pid != pgid:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signum)
