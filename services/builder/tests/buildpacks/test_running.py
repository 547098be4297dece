import asyncio
import os
import uuid
from pathlib import Path

import pytest

from deis_builder.buildpacks import output, running, sandboxing
from deis_builder.errors import BuildFailed
from deis_shared.sandbox import SYSTEM_PATH, Sandbox

NOTE = output.NOTE_PREFIX
ENV = {"PATH": SYSTEM_PATH}


@pytest.fixture
def tree(space: sandboxing.Workspace) -> Path:
    """The build's app dir: where the tests' commands run."""
    return space.app_dir


async def test_output_is_streamed_as_notes(
    tree: Path, sandbox: Sandbox, out: output.Output, lines: list[str]
) -> None:
    argv = ["sh", "-c", "echo one; echo two >&2; printf '\\377bad\\r\\n'; printf tail"]
    await running.run(argv, sandbox=sandbox, cwd=tree, env=ENV, out=out)
    assert lines == [f"{NOTE}one", f"{NOTE}two", f"{NOTE}\ufffdbad", f"{NOTE}tail"]


async def test_child_gets_exactly_the_given_environment_and_directory(
    tree: Path, sandbox: Sandbox, out: output.Output, lines: list[str]
) -> None:
    env = {**ENV, "GREETING": "hello"}
    await running.run(
        ["sh", "-c", 'echo "$GREETING $FOO"; pwd'], sandbox=sandbox, cwd=tree, env=env, out=out
    )
    assert lines == [f"{NOTE}hello ", f"{NOTE}{tree}"]


async def test_very_long_lines_come_in_pieces(
    tree: Path, sandbox: Sandbox, out: output.Output, lines: list[str]
) -> None:
    script = "import sys; sys.stdout.write('x' * 200_000 + '\\nend\\n')"
    await running.run(["python3", "-c", script], sandbox=sandbox, cwd=tree, env=ENV, out=out)
    assert lines[-1] == f"{NOTE}end"
    pieces = [line.removeprefix(NOTE) for line in lines[:-1]]
    assert all(len(piece) <= running.MAX_LINE for piece in pieces)
    assert "".join(pieces) == "x" * 200_000


async def test_non_zero_exit_fails_the_build_after_the_output(
    tree: Path, sandbox: Sandbox, out: output.Output, lines: list[str]
) -> None:
    with pytest.raises(BuildFailed) as caught:
        await running.run(
            ["sh", "-c", "echo failing; exit 3"], sandbox=sandbox, cwd=tree, env=ENV, out=out
        )
    assert str(caught.value) == "sh exited with code 3"
    assert lines == [f"{NOTE}failing"]


async def test_reason_names_the_module_and_subcommand(
    tree: Path, sandbox: Sandbox, out: output.Output
) -> None:
    argv = ["python3", "-m", "nonexistent_module_for_test", "install", "--x"]
    with pytest.raises(
        BuildFailed, match=r"^python\S* -m nonexistent_module_for_test install exited"
    ):
        await running.run(argv, sandbox=sandbox, cwd=tree, env=ENV, out=out)


async def test_death_by_signal_is_named(tree: Path, sandbox: Sandbox, out: output.Output) -> None:
    with pytest.raises(BuildFailed) as caught:
        await running.run(["sh", "-c", "kill -9 $$"], sandbox=sandbox, cwd=tree, env=ENV, out=out)
    assert str(caught.value) == "sh was killed by SIGKILL"


async def test_missing_executable_fails_the_build(
    tree: Path, sandbox: Sandbox, out: output.Output
) -> None:
    with pytest.raises(BuildFailed) as caught:
        await running.run(["no-such-tool-for-deis"], sandbox=sandbox, cwd=tree, env=ENV, out=out)
    assert str(caught.value) == "no-such-tool-for-deis not found"


async def test_capture_returns_the_output(tree: Path, sandbox: Sandbox) -> None:
    text = await running.capture(
        ["sh", "-c", "echo a; echo b >&2"], sandbox=sandbox, cwd=tree, env=ENV
    )
    assert text == "a\nb\n"


async def test_capture_fails_on_non_zero_exit(tree: Path, sandbox: Sandbox) -> None:
    with pytest.raises(BuildFailed, match=r"^sh exited with code 1$"):
        await running.capture(["sh", "-c", "exit 1"], sandbox=sandbox, cwd=tree, env=ENV)


def _marked(marker: str) -> list[int]:
    """Live processes on this host whose command line holds `marker`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            state = (entry / "stat").read_text().rpartition(")")[2].split()[0]
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        if marker.encode() in cmdline and state not in ("Z", "X"):
            found.append(int(entry.name))
    return found


async def _wait_gone(marker: str) -> list[int]:
    for _ in range(200):
        if not _marked(marker):
            return []
        await asyncio.sleep(0.01)
    return _marked(marker)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc to see processes")
async def test_cancellation_kills_everything_the_step_started(tree: Path, sandbox: Sandbox) -> None:
    # The marker is each shell's $0: bwrap's, the shell's and its children's command lines.
    marker = f"deis-test-{uuid.uuid4().hex}"
    seen: list[int] = []

    class Started:
        async def line(self, text: str) -> None:
            seen.extend(_marked(marker))

    script = 'sh -c "sleep 30; :" "$0" & sh -c "sleep 30; :" "$0" & sleep 0.1; echo go; wait'
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(1):
            await running.run(
                ["sh", "-c", script, marker], sandbox=sandbox, cwd=tree, env=ENV, out=Started()
            )
    assert len(seen) >= 4  # bwrap, its init, the shell, its two children
    assert await _wait_gone(marker) == []


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc to see processes")
async def test_failing_output_also_kills_the_child(tree: Path, sandbox: Sandbox) -> None:
    marker = f"deis-test-{uuid.uuid4().hex}"

    class Broken:
        async def line(self, text: str) -> None:
            raise ConnectionResetError("the user went away")

    argv = ["sh", "-c", "echo hi; sleep 30; :", marker]
    with pytest.raises(ConnectionResetError):
        await running.run(argv, sandbox=sandbox, cwd=tree, env=ENV, out=Broken())
    assert await _wait_gone(marker) == []


async def test_standard_input_and_output_can_be_files_of_the_builders(
    space: sandboxing.Workspace, sandbox: Sandbox, out: output.Output, lines: list[str]
) -> None:
    given, taken = space.work / "in", space.work / "out"
    given.write_bytes(b"through the sandbox\n")
    argv = ["sh", "-c", "tr a-z A-Z; echo to-stderr >&2; ls -A ../.. >&2"]
    await running.run(
        argv, sandbox=sandbox, cwd=space.app_dir, env=ENV, out=out, stdin=given, stdout=taken
    )
    assert taken.read_bytes() == b"THROUGH THE SANDBOX\n"
    assert taken.stat().st_uid == os.geteuid()
    # The builder's work dir holds the files; the sandbox sees only the build's tree in it.
    assert lines == [f"{NOTE}to-stderr", f"{NOTE}tree"]


async def test_steps_run_as_the_builds_user_in_namespaces_of_their_own(
    space: sandboxing.Workspace, sandbox: Sandbox
) -> None:
    script = "id -u; id -G; echo $$; hostname; ls /proc | grep -c '^[0-9]'"
    said = await running.capture(["sh", "-c", script], sandbox=sandbox, cwd=space.app_dir, env=ENV)
    uid, groups, pid, hostname, processes = said.split()
    if space.uid is not None:
        assert (int(uid), groups) == (space.uid, str(space.uid))
    assert int(uid) != 0
    assert int(pid) < 10  # a PID namespace of its own: bwrap's init, the shell, ls, grep
    assert int(processes) < 10
    assert hostname == "app"


async def test_a_program_missing_from_the_sandbox_is_named(
    tree: Path, sandbox: Sandbox, out: output.Output
) -> None:
    # The builder's own interpreter may live outside /usr: then the sandbox has no such file.
    with pytest.raises(BuildFailed, match=r"^/nonexistent/python3 not found$"):
        await running.run(["/nonexistent/python3"], sandbox=sandbox, cwd=tree, env=ENV, out=out)
