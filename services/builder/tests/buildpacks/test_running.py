import asyncio
import os
import sys
from pathlib import Path

import pytest

from deis_builder.buildpacks import output, running
from deis_builder.errors import BuildFailed

NOTE = output.NOTE_PREFIX
ENV = {"PATH": os.defpath + os.pathsep + str(Path(sys.executable).parent)}


async def test_output_is_streamed_as_notes(
    tmp_path: Path, out: output.Output, lines: list[str]
) -> None:
    argv = ["sh", "-c", "echo one; echo two >&2; printf '\\377bad\\r\\n'; printf tail"]
    await running.run(argv, cwd=tmp_path, env=ENV, out=out)
    assert lines == [f"{NOTE}one", f"{NOTE}two", f"{NOTE}\ufffdbad", f"{NOTE}tail"]


async def test_child_gets_exactly_the_given_environment_and_directory(
    tmp_path: Path, out: output.Output, lines: list[str]
) -> None:
    env = {**ENV, "GREETING": "hello"}
    await running.run(["sh", "-c", 'echo "$GREETING $FOO"; pwd'], cwd=tmp_path, env=env, out=out)
    assert lines == [f"{NOTE}hello ", f"{NOTE}{tmp_path}"]


async def test_very_long_lines_come_in_pieces(
    tmp_path: Path, out: output.Output, lines: list[str]
) -> None:
    script = "import sys; sys.stdout.write('x' * 200_000 + '\\nend\\n')"
    await running.run([sys.executable, "-c", script], cwd=tmp_path, env=ENV, out=out)
    assert lines[-1] == f"{NOTE}end"
    pieces = [line.removeprefix(NOTE) for line in lines[:-1]]
    assert all(len(piece) <= running.MAX_LINE for piece in pieces)
    assert "".join(pieces) == "x" * 200_000


async def test_non_zero_exit_fails_the_build_after_the_output(
    tmp_path: Path, out: output.Output, lines: list[str]
) -> None:
    with pytest.raises(BuildFailed) as caught:
        await running.run(["sh", "-c", "echo failing; exit 3"], cwd=tmp_path, env=ENV, out=out)
    assert str(caught.value) == "sh exited with code 3"
    assert lines == [f"{NOTE}failing"]


async def test_reason_names_the_module_and_subcommand(tmp_path: Path, out: output.Output) -> None:
    argv = [sys.executable, "-m", "nonexistent_module_for_test", "install", "--x"]
    with pytest.raises(
        BuildFailed, match=r"^python\S* -m nonexistent_module_for_test install exited"
    ):
        await running.run(argv, cwd=tmp_path, env=ENV, out=out)


async def test_death_by_signal_is_named(tmp_path: Path, out: output.Output) -> None:
    with pytest.raises(BuildFailed) as caught:
        await running.run(["sh", "-c", "kill -9 $$"], cwd=tmp_path, env=ENV, out=out)
    assert str(caught.value) == "sh was killed by SIGKILL"


async def test_missing_executable_fails_the_build(tmp_path: Path, out: output.Output) -> None:
    with pytest.raises(BuildFailed) as caught:
        await running.run(["no-such-tool-for-deis"], cwd=tmp_path, env=ENV, out=out)
    assert str(caught.value) == "no-such-tool-for-deis not found"


async def test_capture_returns_the_output(tmp_path: Path) -> None:
    text = await running.capture(["sh", "-c", "echo a; echo b >&2"], cwd=tmp_path, env=ENV)
    assert text == "a\nb\n"


async def test_capture_fails_on_non_zero_exit(tmp_path: Path) -> None:
    with pytest.raises(BuildFailed, match=r"^sh exited with code 1$"):
        await running.capture(["sh", "-c", "exit 1"], cwd=tmp_path, env=ENV)


def _alive(pid: int) -> bool:
    """Whether a process runs (a zombie waiting for a reaper counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")


async def _wait_gone(pids: list[int]) -> list[int]:
    for _ in range(200):
        if not any(_alive(pid) for pid in pids):
            return []
        await asyncio.sleep(0.01)
    return [pid for pid in pids if _alive(pid)]


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc to see processes")
async def test_cancellation_kills_the_whole_process_group(tmp_path: Path) -> None:
    pids: list[int] = []
    started = asyncio.Event()

    class Pids:
        async def line(self, text: str) -> None:
            pids.append(int(text))
            if len(pids) == 2:
                started.set()

    # The shell prints its own pid and its background sleep's, then waits for it.
    argv = ["sh", "-c", "sleep 30 & echo $!; echo $$; wait"]
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.5):
            await running.run(argv, cwd=tmp_path, env=ENV, out=Pids())
    assert started.is_set()
    assert await _wait_gone(pids) == []


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc to see processes")
async def test_failing_output_also_kills_the_child(tmp_path: Path) -> None:
    class Broken:
        async def line(self, text: str) -> None:
            self.pid = int(text)
            raise ConnectionResetError("the user went away")

    broken = Broken()
    with pytest.raises(ConnectionResetError):
        await running.run(["sh", "-c", "echo $$; sleep 30"], cwd=tmp_path, env=ENV, out=broken)
    assert await _wait_gone([broken.pid]) == []
