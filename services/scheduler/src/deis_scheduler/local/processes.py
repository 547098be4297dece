"""One OS process of an app: a Procfile command in a process group of its own, output pumped.

The command runs as `/bin/sh -c <command>`, as Procfile commands expect a shell (`$PORT`,
`&&`). The child leads a new session, so its pid is its process group's id and a stop reaches
everything it spawned: SIGTERM to the group, `grace` seconds, then SIGKILL to the group. When
the leader exits on its own, what is left of its group is killed too: an app process is its
whole group, and nothing of it may outlive it (nor hold its output pipes open). A process that
leaves its group (`setsid`, a daemonising double fork) escapes this; after `PUMP_DRAIN` seconds
its output is no longer read.

When the scheduler runs as root, the process runs as `nobody` (with no supplementary groups),
so an app cannot touch the scheduler, its state or other apps' files. The caller must make the
working directory and the path to it readable by that user (`slugs.SlugCache` unpacks releases
0755/0644 for this); `run_as=None` keeps the scheduler's own user.

Output is read by an asyncio subprocess protocol rather than by reader tasks over
`asyncio.subprocess.Process`: on Python 3.11 `Process.wait()` only returns once the output
pipes are closed too, so a leftover child holding them would hide the leader's exit, while the
protocol hears of the exit and of each pipe separately. No task is needed, none can leak, and
`on_line` runs straight from the event loop's read callback. Data is read in chunks, so no
line length can overrun a buffer; lines longer than `MAX_LINE` bytes are passed on in pieces.
"""

import asyncio
import contextlib
import enum
import logging
import os
import pwd
import signal
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Final, Literal

logger = logging.getLogger(__name__)

MAX_LINE: Final = 16 * 1024
"""Bytes of one output line passed on at once; longer lines are split."""

SHELL: Final = "/bin/sh"
"""The shell that runs Procfile commands."""

PRLIMIT: Final = "prlimit"
"""util-linux's prlimit, which starts the command under the given resource limits."""

UNPRIVILEGED_USER: Final = "nobody"
"""Who app processes run as when the scheduler is root."""

PUMP_DRAIN: Final = 1.0
"""Seconds to wait for the output pipes to close once the group is killed, before closing them."""


class _Default(enum.Enum):
    USER = "default"


def default_user() -> str | None:
    """Who processes run as unless told otherwise: `nobody` when root, else the same user."""
    return UNPRIVILEGED_USER if os.geteuid() == 0 else None


class LocalProcess:
    """One OS process, started at most once; `stop` is idempotent and safe before `start`."""

    def __init__(
        self,
        *,
        name: str,
        label: str,
        run_as: str | None | Literal[_Default.USER] = _Default.USER,
    ) -> None:
        """Describe a process to be started.

        Args:
            name: the process's full name (`<app>-<type>-v<release>-<index>`), for logs.
            label: `<type>.<index>` (`web.1`), for messages.
            run_as: the user to run as; `None` runs as the scheduler's own user; by default
                `nobody` when the scheduler is root, otherwise the scheduler's own user.
        """
        self.name = name
        self.label = label
        self.run_as = default_user() if run_as is _Default.USER else run_as
        self._transport: asyncio.SubprocessTransport | None = None
        self._output: _Output | None = None
        self._finishing = asyncio.Lock()
        self._finished = False

    @property
    def pid(self) -> int | None:
        """The process id (and process group id), once started."""
        return self._transport.get_pid() if self._transport is not None else None

    @property
    def returncode(self) -> int | None:
        """The exit code once it has exited (negative: killed by that signal), else None."""
        return self._transport.get_returncode() if self._transport is not None else None

    @property
    def running(self) -> bool:
        """Whether it was started and has not exited."""
        return self._transport is not None and self._transport.get_returncode() is None

    async def start(
        self,
        *,
        command: str,
        cwd: Path,
        env: Mapping[str, str],
        on_line: Callable[[str], None],
        memory_bytes: int | None = None,
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

        Raises:
            OSError: the process could not be started: `cwd` is missing, or `run_as` names
                no user. (The change of directory happens before the change of user, so an
                unreadable `cwd` is not refused here: the app fails reading it.)
            RuntimeError: it was started before.
        """
        if self._transport is not None:
            raise RuntimeError(f"{self.label} was started already")
        user, group, extra_groups = _identity(self.run_as, label=self.label)
        output = _Output(on_line, label=self.label)
        limits = [] if memory_bytes is None else [PRLIMIT, f"--data={memory_bytes}", "--"]
        self._transport, self._output = await asyncio.get_running_loop().subprocess_exec(
            lambda: output,
            *limits,
            SHELL,
            "-c",
            command,
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            user=user,
            group=group,
            extra_groups=extra_groups,
        )

    async def wait(self) -> int:
        """Wait until it exits, then until its output is passed on.

        Returns:
            The exit code; negative when killed by a signal.

        Raises:
            RuntimeError: it was never started.
        """
        if self._transport is None or self._output is None:
            raise RuntimeError(f"{self.label} was never started")
        # Shielded: a cancelled waiter must not cancel the future other waiters share.
        await asyncio.shield(self._output.exited)
        await self._finish()
        code = self._transport.get_returncode()
        assert code is not None
        return code

    async def stop(self, *, grace: float) -> int | None:
        """Stop it: SIGTERM to its group, then SIGKILL to the group after `grace` seconds.

        Safe to call twice, before `start` and after it exited. If the caller is cancelled
        meanwhile, the group is killed at once and the cancellation goes on.

        Args:
            grace: seconds between SIGTERM and SIGKILL.

        Returns:
            The exit code (negative when killed by a signal), or None if never started.
        """
        transport, output = self._transport, self._output
        if transport is None or output is None:
            return None
        pid = transport.get_pid()
        try:
            if not output.exited.done():
                _signal_group(pid, signal.SIGTERM)
                try:
                    async with asyncio.timeout(grace):
                        await asyncio.shield(output.exited)
                except TimeoutError:
                    logger.warning("%s did not stop within %s s: killing it", self.name, grace)
                    _signal_group(pid, signal.SIGKILL)
                    await asyncio.shield(output.exited)
            await self._finish()
        except BaseException:
            _signal_group(pid, signal.SIGKILL)
            # Not at once: closing before the exit is seen makes asyncio reap the child itself,
            # and the exit code is lost (255).
            output.exited.add_done_callback(lambda _: transport.close())
            raise
        return transport.get_returncode()

    async def _finish(self) -> None:
        """After the leader exited: kill the rest of its group, read the last of its output."""
        assert self._transport is not None
        assert self._output is not None
        async with self._finishing:
            if self._finished:
                return
            try:
                # While members remain, the group id cannot be reused by another process.
                _signal_group(self._transport.get_pid(), signal.SIGKILL)
                async with asyncio.timeout(PUMP_DRAIN):
                    await asyncio.shield(self._output.closed)
            except TimeoutError:
                logger.warning("%s: output still open after its group was killed", self.name)
            finally:
                self._transport.close()
                self._finished = True


class _Output(asyncio.SubprocessProtocol):
    """Splits the child's stdout and stderr into lines; tells when it exited and when all ended."""

    def __init__(self, on_line: Callable[[str], None], *, label: str) -> None:
        loop = asyncio.get_running_loop()
        self.exited: asyncio.Future[None] = loop.create_future()
        """Done when the process has exited (its output may still be open)."""
        self.closed: asyncio.Future[None] = loop.create_future()
        """Done when the process has exited and both pipes are closed."""
        self._on_line = on_line
        self._label = label
        self._pending: dict[int, bytearray] = {1: bytearray(), 2: bytearray()}

    def pipe_data_received(self, fd: int, data: bytes) -> None:
        pending = self._pending[fd]
        pending += data
        while (end := pending.find(b"\n")) >= 0 or len(pending) >= MAX_LINE:
            if 0 <= end <= MAX_LINE:
                self._deliver(pending[:end])
                del pending[: end + 1]
            else:
                self._deliver(pending[:MAX_LINE])
                del pending[:MAX_LINE]

    def pipe_connection_lost(self, fd: int, exc: Exception | None) -> None:  # noqa: ARG002 -- asyncio's signature
        pending = self._pending.get(fd)
        if pending:
            self._deliver(pending)
            pending.clear()

    def process_exited(self) -> None:
        if not self.exited.done():
            self.exited.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:  # noqa: ARG002 -- asyncio's signature
        self.process_exited()
        if not self.closed.done():
            self.closed.set_result(None)

    def _deliver(self, raw: bytearray) -> None:
        text = bytes(raw).decode(errors="replace").removesuffix("\r")
        try:
            self._on_line(text)
        except Exception:  # a faulty callback must not stop the output, which would block the app
            logger.exception("output callback of %s failed", self._label)


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
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signum)
