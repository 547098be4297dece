import asyncio
import os
import pwd
import signal
import sys
from pathlib import Path

import pytest

from deis_scheduler.local import processes
from deis_scheduler.local.processes import LocalProcess

ENV = {"PATH": os.defpath + os.pathsep + str(Path(sys.executable).parent)}


class Lines:
    """An `on_line` that keeps every line and lets a test wait for one."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._arrived = asyncio.Event()

    def __call__(self, text: str) -> None:
        self.lines.append(text)
        self._arrived.set()

    async def first(self) -> str:
        async with asyncio.timeout(3):
            while not self.lines:
                self._arrived.clear()
                await self._arrived.wait()
        return self.lines[0]


def gone(pid: int) -> bool:
    """Whether `pid` has exited (a zombie nobody reaped yet counts as exited)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


async def eventually_gone(pid: int) -> bool:
    for _ in range(100):
        if gone(pid):
            return True
        await asyncio.sleep(0.02)
    return False


def local(label: str = "web.1") -> LocalProcess:
    return LocalProcess(name=f"myapp-web-v1-{label[-1]}", label=label, run_as=None)


async def test_stdout_and_stderr_lines_arrive_and_the_exit_code_is_kept(tmp_path: Path) -> None:
    lines = Lines()
    proc = local()
    command = "echo one; echo two >&2; printf '\\377bad\\r\\n'; printf tail; exit 3"
    await proc.start(command=command, cwd=tmp_path, env=ENV, on_line=lines)
    assert proc.pid is not None
    assert await proc.wait() == 3
    assert proc.returncode == 3
    assert not proc.running
    assert sorted(lines.lines) == sorted(["one", "two", "\ufffdbad", "tail"])


async def test_the_process_gets_the_environment_and_directory(tmp_path: Path) -> None:
    lines = Lines()
    proc = local()
    env = {**ENV, "GREETING": "hello"}
    await proc.start(command='echo "$GREETING $HOME"; pwd', cwd=tmp_path, env=env, on_line=lines)
    assert await proc.wait() == 0
    assert lines.lines == ["hello ", str(tmp_path)]


async def test_long_lines_are_split(tmp_path: Path) -> None:
    lines = Lines()
    proc = local()
    script = "import sys; sys.stdout.write('x' * 40_000 + '\\nend\\n')"
    await proc.start(
        command=f'{sys.executable} -c "{script}"', cwd=tmp_path, env=ENV, on_line=lines
    )
    assert await proc.wait() == 0
    assert lines.lines[-1] == "end"
    assert all(len(piece) <= processes.MAX_LINE for piece in lines.lines)
    assert "".join(lines.lines[:-1]) == "x" * 40_000


async def test_a_failing_callback_does_not_stop_the_output(tmp_path: Path) -> None:
    seen: list[str] = []

    def on_line(text: str) -> None:
        seen.append(text)
        if text == "first":
            raise RuntimeError("broken callback")

    proc = local()
    await proc.start(command="echo first; echo second", cwd=tmp_path, env=ENV, on_line=on_line)
    assert await proc.wait() == 0
    assert seen == ["first", "second"]


async def test_stop_terminates_a_cooperative_process(tmp_path: Path) -> None:
    lines = Lines()
    proc = local()
    script = (
        "import signal, sys, time\n"
        "signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))\n"
        "print('ready', flush=True)\n"
        "time.sleep(30)\n"
    )
    await proc.start(
        command=f'exec {sys.executable} -c "{script}"', cwd=tmp_path, env=ENV, on_line=lines
    )
    assert await lines.first() == "ready"
    assert await proc.stop(grace=5) == 0
    assert proc.returncode == 0


async def test_stop_kills_a_group_that_ignores_sigterm(tmp_path: Path) -> None:
    lines = Lines()
    proc = local()
    # The shell ignores TERM and so does its child `sleep`, which inherits that.
    await proc.start(
        command="trap '' TERM; sleep 30 & echo $!; wait", cwd=tmp_path, env=ENV, on_line=lines
    )
    child = int(await lines.first())
    assert proc.running
    assert proc.pid is not None
    leader = proc.pid
    assert not gone(child)
    assert await proc.stop(grace=0.2) == -signal.SIGKILL
    assert await eventually_gone(child)
    assert gone(leader)
    # Idempotent: the same code again, without signalling anything.
    assert await proc.stop(grace=0.2) == -signal.SIGKILL
    assert await proc.wait() == -signal.SIGKILL


async def test_what_the_process_left_behind_dies_with_it(tmp_path: Path) -> None:
    lines = Lines()
    proc = local()
    # The backgrounded sleep holds the output pipes open after its parent exits.
    await proc.start(command="sleep 30 & echo $!", cwd=tmp_path, env=ENV, on_line=lines)
    assert await proc.wait() == 0
    assert await eventually_gone(int(lines.lines[0]))


async def test_stop_before_start_and_after_exit(tmp_path: Path) -> None:
    proc = local()
    assert await proc.stop(grace=1) is None
    assert proc.pid is None
    assert proc.returncode is None
    assert not proc.running
    with pytest.raises(RuntimeError, match="never started"):
        await proc.wait()
    await proc.start(command="exit 7", cwd=tmp_path, env=ENV, on_line=Lines())
    assert await proc.wait() == 7
    assert await proc.stop(grace=1) == 7
    with pytest.raises(RuntimeError, match="started already"):
        await proc.start(command="true", cwd=tmp_path, env=ENV, on_line=Lines())


async def test_a_cancelled_stop_kills_the_group(tmp_path: Path) -> None:
    lines = Lines()
    proc = local()
    await proc.start(
        command="trap '' TERM; echo up; sleep 30", cwd=tmp_path, env=ENV, on_line=lines
    )
    await lines.first()
    stopping = asyncio.create_task(proc.stop(grace=30))
    await asyncio.sleep(0.1)
    stopping.cancel()
    with pytest.raises(asyncio.CancelledError):
        await stopping
    assert await proc.wait() == -signal.SIGKILL


async def test_a_missing_directory_is_an_os_error(tmp_path: Path) -> None:
    proc = local()
    with pytest.raises(FileNotFoundError):
        await proc.start(command="true", cwd=tmp_path / "missing", env=ENV, on_line=Lines())
    assert await proc.stop(grace=1) is None


async def test_an_unknown_user_is_an_os_error(tmp_path: Path) -> None:
    proc = LocalProcess(name="myapp-web-v1-1", label="web.1", run_as="no-such-user-for-deis")
    with pytest.raises(OSError, match="no user named 'no-such-user-for-deis'"):
        await proc.start(command="true", cwd=tmp_path, env=ENV, on_line=Lines())


@pytest.mark.skipif(os.geteuid() != 0, reason="only root switches to nobody")
async def test_as_root_processes_run_as_nobody_without_root_groups() -> None:
    lines = Lines()
    proc = LocalProcess(name="myapp-web-v1-1", label="web.1")
    assert proc.run_as == "nobody"
    await proc.start(command="id -u; id -G", cwd=Path("/"), env=ENV, on_line=lines)
    assert await proc.wait() == 0
    nobody = pwd.getpwnam("nobody")
    assert lines.lines == [str(nobody.pw_uid), str(nobody.pw_gid)]


def test_the_default_user_follows_the_schedulers_own() -> None:
    expected = "nobody" if os.geteuid() == 0 else None
    assert processes.default_user() == expected
    assert LocalProcess(name="n", label="web.1").run_as == expected
    assert LocalProcess(name="n", label="web.1", run_as=None).run_as is None
