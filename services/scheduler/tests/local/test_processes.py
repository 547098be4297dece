import asyncio
import os
import pwd
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from deis_scheduler.local import processes
from deis_scheduler.local.processes import LocalProcess
from deis_shared import sandbox as sandboxes
from deis_testing import traversable

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


def local(tmp_path: Path, label: str = "web.1") -> LocalProcess:
    return LocalProcess(
        name=f"myapp-web-v1-{label[-1]}", label=label, output_dir=tmp_path / "out", run_as=None
    )


async def test_stdout_and_stderr_lines_arrive_and_the_exit_code_is_kept(tmp_path: Path) -> None:
    lines = Lines()
    proc = local(tmp_path)
    command = "echo one; echo two >&2; printf '\\377bad\\r\\n'; printf tail; exit 3"
    await proc.start(command=command, cwd=tmp_path, env=ENV, on_line=lines)
    assert proc.pid is not None
    assert await proc.wait() == 3
    assert proc.returncode == 3
    assert not proc.running
    assert sorted(lines.lines) == sorted(["one", "two", "\ufffdbad", "tail"])


async def test_the_process_gets_the_environment_and_directory(tmp_path: Path) -> None:
    lines = Lines()
    proc = local(tmp_path)
    env = {**ENV, "GREETING": "hello"}
    await proc.start(command='echo "$GREETING $HOME"; pwd', cwd=tmp_path, env=env, on_line=lines)
    assert await proc.wait() == 0
    assert lines.lines == ["hello ", str(tmp_path)]


async def test_long_lines_are_split(tmp_path: Path) -> None:
    lines = Lines()
    proc = local(tmp_path)
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

    proc = local(tmp_path)
    await proc.start(command="echo first; echo second", cwd=tmp_path, env=ENV, on_line=on_line)
    assert await proc.wait() == 0
    assert seen == ["first", "second"]


async def test_stop_terminates_a_cooperative_process(tmp_path: Path) -> None:
    lines = Lines()
    proc = local(tmp_path)
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
    proc = local(tmp_path)
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
    proc = local(tmp_path)
    # The backgrounded sleep holds the output pipes open after its parent exits.
    await proc.start(command="sleep 30 & echo $!", cwd=tmp_path, env=ENV, on_line=lines)
    assert await proc.wait() == 0
    assert await eventually_gone(int(lines.lines[0]))


async def test_stop_before_start_and_after_exit(tmp_path: Path) -> None:
    proc = local(tmp_path)
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
    proc = local(tmp_path)
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
    proc = local(tmp_path)
    with pytest.raises(FileNotFoundError):
        await proc.start(command="true", cwd=tmp_path / "missing", env=ENV, on_line=Lines())
    assert await proc.stop(grace=1) is None


async def test_an_unknown_user_is_an_os_error(tmp_path: Path) -> None:
    proc = LocalProcess(
        name="myapp-web-v1-1",
        label="web.1",
        output_dir=tmp_path,
        run_as="no-such-user-for-deis",
    )
    with pytest.raises(OSError, match="no user named 'no-such-user-for-deis'"):
        await proc.start(command="true", cwd=tmp_path, env=ENV, on_line=Lines())


@pytest.mark.skipif(os.geteuid() != 0, reason="only root switches to nobody")
async def test_as_root_processes_run_as_nobody_without_root_groups(tmp_path: Path) -> None:
    lines = Lines()
    proc = LocalProcess(name="myapp-web-v1-1", label="web.1", output_dir=tmp_path)
    assert proc.run_as == "nobody"
    await proc.start(command="id -u; id -G", cwd=Path("/"), env=ENV, on_line=lines)
    assert await proc.wait() == 0
    nobody = pwd.getpwnam("nobody")
    assert lines.lines == [str(nobody.pw_uid), str(nobody.pw_gid)]


def test_the_default_user_follows_the_schedulers_own(tmp_path: Path) -> None:
    expected = "nobody" if os.geteuid() == 0 else None
    assert processes.default_user() == expected
    assert LocalProcess(name="n", label="web.1", output_dir=tmp_path).run_as == expected
    assert LocalProcess(name="n", label="web.1", output_dir=tmp_path, run_as=None).run_as is None


TICKER = (
    "import itertools, sys, time\n"
    "for n in itertools.count():\n"
    "    print(n, flush=True)\n"
    "    time.sleep(0.02)\n"
)


async def test_a_detached_process_runs_on_and_is_adopted_with_its_output(tmp_path: Path) -> None:
    first = Lines()
    proc = local(tmp_path)
    await proc.start(
        command=f'exec {sys.executable} -c "{TICKER}"', cwd=tmp_path, env=ENV, on_line=first
    )
    await first.first()
    identity = proc.identity
    assert identity is not None
    proc.detach()
    proc.detach()
    assert not proc.running
    assert await proc.stop(grace=0) is None  # detached: not ours to stop any more
    seen = len(first.lines)
    # Nobody reads for a while: the ticker must neither die of SIGPIPE nor lose its lines.
    await asyncio.sleep(0.5)
    assert len(first.lines) == seen
    assert not gone(identity.pid)

    second = Lines()
    adopted = local(tmp_path)
    assert await adopted.adopt(identity, on_line=second)
    assert adopted.running
    assert adopted.pid == identity.pid
    async with asyncio.timeout(5):
        while len(second.lines) < 30:  # noqa: ASYNC110 -- polls another process's progress
            await asyncio.sleep(0.05)
    numbers = [int(line) for line in first.lines + second.lines]
    assert numbers == list(range(len(numbers)))  # none lost, none twice, in order
    assert await adopted.stop(grace=2) is None  # not our child: its exit code is unknown
    assert gone(identity.pid)
    assert not adopted.fifo("out").exists()


async def test_an_adopted_process_that_dies_is_seen_to_exit(tmp_path: Path) -> None:
    proc = local(tmp_path)
    await proc.start(command="echo up; sleep 30", cwd=tmp_path, env=ENV, on_line=Lines())
    identity = proc.identity
    assert identity is not None
    proc.detach()
    adopted = local(tmp_path)
    assert await adopted.adopt(identity, on_line=Lines())
    os.killpg(identity.pid, signal.SIGKILL)
    async with asyncio.timeout(5):
        assert await adopted.wait() is None
    assert not adopted.running
    await asyncio.to_thread(os.waitpid, identity.pid, 0)  # this test is its parent: reap it


async def test_adoption_refuses_a_gone_or_different_process(tmp_path: Path) -> None:
    proc = local(tmp_path)
    await proc.start(command="sleep 30", cwd=tmp_path, env=ENV, on_line=Lines())
    identity = proc.identity
    assert identity is not None
    other = processes.Identity(pid=identity.pid, start_ticks=identity.start_ticks + 1)
    assert not await local(tmp_path).adopt(other, on_line=Lines())  # a reused pid
    assert await proc.stop(grace=1) == -signal.SIGTERM
    assert not await local(tmp_path).adopt(identity, on_line=Lines())  # gone
    with pytest.raises(RuntimeError, match="started already"):
        await proc.adopt(identity, on_line=Lines())


def test_start_ticks_reads_this_process_and_refuses_missing_ones() -> None:
    ticks = processes.start_ticks(os.getpid())
    assert ticks is not None
    assert ticks > 0
    assert processes.start_ticks(2**22 + 1) is None


# --- in a sandbox ---------------------------------------------------------------------------


def sandbox_of(release: Path) -> sandboxes.Sandbox:
    return sandboxes.Sandbox(
        uid=231_100 if os.geteuid() == 0 else None,
        mounts=(sandboxes.Mount(release, "/app"),),
        workdir="/app",
        hostname="myapp",
    )


@pytest.fixture
def release(tmp_path: Path) -> Path:
    return traversable(tmp_path / "release")


async def test_a_sandboxed_process_gets_its_sigterm_and_its_grace(
    tmp_path: Path, release: Path
) -> None:
    lines = Lines()
    proc = local(tmp_path)
    command = "trap 'sleep 0.3; echo graceful; exit 0' TERM; echo up; while :; do sleep 0.05; done"
    env = {"PATH": sandboxes.SYSTEM_PATH}
    await proc.start(
        command=command, cwd=release, env=env, on_line=lines, sandbox=sandbox_of(release)
    )
    assert proc.sandboxed
    assert await lines.first() == "up"
    assert await proc.stop(grace=5) == 0  # bwrap passes the command's own exit code on
    assert lines.lines[0] == "up"
    assert lines.lines[-1] == "graceful"  # after the shell's "Terminated" for its sleep


async def test_a_sandboxed_command_runs_only_once_prepare_has_seen_its_group(
    tmp_path: Path, release: Path
) -> None:
    lines = Lines()
    seen: list[list[str]] = []

    def prepare(pids: Sequence[int]) -> None:
        seen.append([Path(f"/proc/{pid}/comm").read_text().strip() for pid in pids])

    proc = local(tmp_path)
    await proc.start(
        command="echo ran",
        cwd=release,
        env={"PATH": sandboxes.SYSTEM_PATH},
        on_line=lines,
        sandbox=sandbox_of(release),
        prepare=prepare,
    )
    assert await proc.wait() == 0
    assert lines.lines == ["ran"]
    assert seen and seen[0][0] == "bwrap"
    assert {name for names in seen for name in names} == {"bwrap"}  # no shell yet
