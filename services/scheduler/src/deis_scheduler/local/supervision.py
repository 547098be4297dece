"""One app process as the scheduler tracks it, and how it is started, watched and retired.

A `Proc` is one (type, index) of one release: its OS process (`local.processes`), its port, its
state as KV `procs` shows it, and the last lines it wrote (for a failed deploy's report).
Supervision restarts a process that exits on its own, after a backoff that doubles from 1 s up
to `restart_backoff_max`, on the same port, so its endpoint stays valid. A `Proc` is written
down as a `records.ProcessRecord`, from which a restarted scheduler adopts it.
"""

import asyncio
import collections
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from deis_scheduler import errors
from deis_scheduler.local import cgroups, health, limits, records
from deis_scheduler.local.processes import Identity, LocalProcess
from deis_shared import wire
from deis_shared.kv import procs as procs_kv
from deis_shared.sandbox import Sandbox

logger = logging.getLogger(__name__)

State = procs_kv.ProcessState


@dataclass(frozen=True)
class Launch:
    """Everything needed to (re)start one process."""

    command: str
    cwd: Path
    env: dict[str, str]
    sandbox: Sandbox
    """Where it runs (`local.sandboxing.app_sandbox`)."""
    output_dir: Path
    """Where the process's output FIFOs live."""
    memory: str | None = None
    """The memory limit in Deis's notation, as `procs` reports it; `None`: unlimited."""
    cpu: str | None = None
    """The CPU limit in Deis's notation; `None`: unlimited."""
    cpu_control: cgroups.CpuControl | None = None
    """Where CPU limits are applied on this host; `None`: they cannot be."""


@dataclass
class Proc:
    """One process of an app's release."""

    app: str
    type: str
    index: int
    release: int
    port: int
    launch: Launch
    last_lines: int
    state: State = State.INITIALIZING
    started: datetime | None = None
    restarts: int = 0
    exit_code: int | None = None
    stopping: bool = False
    process: LocalProcess | None = None
    lines: collections.deque[str] = field(init=False)
    """The last `last_lines` lines it wrote, across restarts."""
    supervisor: asyncio.Task[None] | None = None
    cpu_limited: bool = False
    """Whether its CPU limit applies (a cgroup holds it)."""
    sandboxed: bool = True
    """Whether its OS process runs in a sandbox (false only for one adopted from a scheduler
    that ran apps unconfined, until it restarts)."""

    def __post_init__(self) -> None:
        self.lines = collections.deque(maxlen=self.last_lines)

    @property
    def label(self) -> str:
        """`<type>.<index>`, as log lines name the process."""
        return f"{self.type}.{self.index}"

    @property
    def name(self) -> str:
        """The process's name in `deis ps`: `<app>-<type>-v<release>-<index>`."""
        return f"{self.app}-{self.type}-v{self.release}-{self.index}"

    @property
    def running(self) -> bool:
        """Whether its OS process is alive."""
        return self.process is not None and self.process.running

    def status(self) -> procs_kv.Process:
        """Its entry in KV `procs`."""
        return procs_kv.Process(
            name=self.name,
            type=self.type,
            index=self.index,
            release=self.release,
            state=self.state,
            started=self.started,
            restarts=self.restarts,
            pid=self.process.pid if self.process is not None and self.running else None,
            exit_code=self.exit_code,
            memory=self.launch.memory if limits.memory_bytes(self.launch.memory) else None,
            cpu=self.launch.cpu if self.cpu_limited else None,
        )

    def record(self, role: records.Role) -> records.ProcessRecord:
        """How it is written down for a restarted scheduler."""
        process = self.process
        identity = process.identity if process is not None and not process.exited else None
        return records.ProcessRecord(
            type=self.type,
            index=self.index,
            release=self.release,
            port=self.port,
            role=role,
            pid=identity.pid if identity is not None else None,
            start_ticks=identity.start_ticks if identity is not None else None,
            command=self.launch.command,
            cwd=self.launch.cwd,
            env=self.launch.env,
            sandboxed=process.sandboxed if process is not None else True,
            memory=self.launch.memory,
            cpu=self.launch.cpu,
            started=self.started,
            restarts=self.restarts,
            exit_code=self.exit_code,
        )

    @classmethod
    def from_record(
        cls,
        record: records.ProcessRecord,
        *,
        app: str,
        output_dir: Path,
        cpu_control: cgroups.CpuControl | None,
        last_lines: int,
        sandbox: Sandbox,
    ) -> "Proc":
        """The process a previous scheduler recorded, not yet adopted.

        `sandbox` is where it runs when it starts again.
        """
        launch = Launch(
            command=record.command,
            cwd=record.cwd,
            env=record.env,
            sandbox=sandbox,
            output_dir=output_dir,
            memory=record.memory,
            cpu=record.cpu,
            cpu_control=cpu_control,
        )
        return cls(
            app=app,
            type=record.type,
            index=record.index,
            release=record.release,
            port=record.port,
            launch=launch,
            last_lines=last_lines,
            started=record.started,
            restarts=record.restarts,
            exit_code=record.exit_code,
            sandboxed=record.sandboxed,
        )

    def _local(self) -> LocalProcess:
        return LocalProcess(
            name=self.name,
            label=self.label,
            output_dir=self.launch.output_dir,
            run_as=None,
            sandboxed=self.sandboxed,
        )

    async def adopt(self, identity: Identity, *, on_line: Callable[["Proc", str], None]) -> bool:
        """Take over its OS process from a previous scheduler; whether it still ran."""
        process = self._local()
        if not await process.adopt(identity, on_line=lambda text: on_line(self, text)):
            return False
        self.process = process
        self.state = State.UP
        control = self.launch.cpu_control
        self.cpu_limited = control is not None and cgroups.holds(
            control, name=self.name, pid=identity.pid
        )
        return True

    async def detach(self) -> None:
        """Let go of it: supervision ends, the OS process runs on (the scheduler is leaving)."""
        self.stopping = True
        if self.supervisor is not None:
            self.supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.supervisor
        if self.process is not None:
            self.process.detach()

    async def start(self, *, on_line: Callable[["Proc", str], None]) -> None:
        """Start (or restart) the OS process.

        Raises:
            CannotRun: its limits cannot be applied, or the OS refused to start it; then
                nothing was started.
        """
        # Parsed first: a limit refused after the start would leave a process nobody stops.
        memory, cpu = applicable_limits(
            who=self.label, memory=self.launch.memory, cpu=self.launch.cpu
        )
        self.sandboxed = True
        self.process = self._local()
        self.state = State.STARTING
        control = self.launch.cpu_control
        self.cpu_limited = False

        def limit_cpu(pids: Sequence[int]) -> None:
            if control is not None and cpu is not None and pids:
                self.cpu_limited = cgroups.limit(
                    control, name=self.name, pid=pids[0], others=pids[1:], millicores=cpu
                )

        try:
            await self.process.start(
                command=self.launch.command,
                cwd=self.launch.cwd,
                env=self.launch.env,
                on_line=lambda text: on_line(self, text),
                memory_bytes=memory,
                sandbox=self.launch.sandbox,
                prepare=limit_cpu,
            )
        except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the command or env
            raise errors.CannotRun(f"{self.label} could not start: {exc}") from exc
        self.started = wire.utc_now()
        self.exit_code = None

    async def stop(self, *, grace: float) -> None:
        """Stop for good: supervision ends, SIGTERM, then SIGKILL after `grace`."""
        self.stopping = True
        if self.supervisor is not None:
            self.supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.supervisor
        if self.process is not None:
            self.state = State.TERMINATING
            self.exit_code = await self.process.stop(grace=grace)
        if self.launch.cpu_control is not None:
            cgroups.release(self.launch.cpu_control, name=self.name)
        self.state = State.DOWN


def applicable_limits(
    *, who: str, memory: str | None, cpu: str | None
) -> tuple[int | None, int | None]:
    """The memory limit in bytes and the CPU limit in millicores that the specs stand for.

    Args:
        who: the process or process type, for the message.
        memory: the memory limit in Deis's notation, or `None`.
        cpu: the CPU limit in Deis's notation, or `None`.

    Raises:
        CannotRun: either is not a limit this scheduler can apply.
    """
    try:
        return limits.memory_bytes(memory), cgroups.millicores(cpu)
    except ValueError as exc:
        raise errors.CannotRun(f"{who} cannot run with its limits: {exc}") from exc


async def ready(proc: Proc, *, host: str, path: str | None, deadline: float) -> None:
    """Wait until `proc` accepts connections (or answers `path` over HTTP).

    Raises:
        NotReady: It exited, or the deadline passed.
    """

    async def check() -> bool:
        if path is not None:
            return await health.http_ready(host, proc.port, path)
        return await health.tcp_ready(host, proc.port)

    await health.wait_until_ready(check, deadline=deadline, alive=lambda: proc.running)


async def supervise(
    proc: Proc,
    *,
    on_line: Callable[[Proc, str], None],
    changed: Callable[[], Awaitable[None]],
    backoff_max: float,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> None:
    """Restart `proc` whenever it exits on its own, until it is stopped."""
    while not _stopping(proc):
        assert proc.process is not None
        code = await proc.process.wait()
        if _stopping(proc):
            return
        proc.exit_code = code
        proc.state = State.CRASHED
        proc.restarts += 1
        logger.warning(
            "%s %s exited with %s; restart %d", proc.app, proc.label, code, proc.restarts
        )
        await changed()
        attempt = proc.restarts
        while True:
            await sleep(min(backoff_max, 2.0 ** min(attempt - 1, 16)))
            if _stopping(proc):
                return
            try:
                await proc.start(on_line=on_line)
                break
            except errors.CannotRun as exc:
                attempt += 1
                proc.state = State.ERROR
                logger.error("%s %s could not restart: %s", proc.app, proc.label, exc)
                await changed()
        proc.state = State.UP
        await changed()


def _stopping(proc: Proc) -> bool:
    # A function, not the attribute: `stop()` sets it while this coroutine waits, which
    # mypy's narrowing of `proc.stopping` across awaits cannot see.
    return proc.stopping
