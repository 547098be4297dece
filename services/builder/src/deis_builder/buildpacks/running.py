"""Running a build step's subprocess: output streamed to the user, the whole group killed on stop.

Every child starts in a session (and so a process group) of its own, so that stopping a build
also stops what the step spawned: pip runs compilers, npm runs package scripts, and a script
can background a process. When the caller cancels (the build time limit is an `asyncio.timeout`
around the whole compile), the group gets SIGKILL, the child is reaped, and the cancellation
goes on; no orphan outlives its build.

Output is read in chunks rather than with `readline`, so that a line of any length (a minified
file echoed by a package script) cannot overrun the stream's buffer; a line longer than
`MAX_LINE` is passed on in pieces.
"""

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path

from deis_builder.buildpacks import output
from deis_builder.errors import BuildFailed

MAX_LINE = 64 * 1024
"""Bytes of one output line passed on at once; longer lines are split."""
MAX_CAPTURE = 1024 * 1024
"""Bytes `capture` keeps; a probe printing more is cut short."""
_CHUNK = 64 * 1024


async def run(
    argv: Sequence[str], *, cwd: Path, env: Mapping[str, str], out: output.Output
) -> None:
    """Run a command, streaming its output (stderr merged) as indented notes.

    Args:
        argv: the command and its arguments; `argv[0]` is looked up on `env["PATH"]`.
        cwd: the working directory.
        env: the child's whole environment.
        out: where each output line goes, indented under the current step.

    Raises:
        BuildFailed: the command is missing or not executable, or exited with non-zero code.
        asyncio.CancelledError: the caller cancelled; the child's process group is killed.
    """
    async with _running(argv, cwd=cwd, env=env) as process:
        await _pump(process.stdout, out)
        code = await process.wait()
    _check(argv, code)


async def capture(argv: Sequence[str], *, cwd: Path, env: Mapping[str, str]) -> str:
    """Run a short command and return its output (stderr merged), for probing a tool.

    Args:
        argv: the command and its arguments; `argv[0]` is looked up on `env["PATH"]`.
        cwd: the working directory.
        env: the child's whole environment.

    Returns:
        At most `MAX_CAPTURE` bytes of output, decoded (undecodable bytes replaced).

    Raises:
        BuildFailed: the command is missing or not executable, or exited with non-zero code.
        asyncio.CancelledError: the caller cancelled; the child's process group is killed.
    """
    kept = bytearray()
    async with _running(argv, cwd=cwd, env=env) as process:
        assert process.stdout is not None
        while chunk := await process.stdout.read(_CHUNK):
            kept += chunk[: MAX_CAPTURE - len(kept)]
        code = await process.wait()
    _check(argv, code)
    return kept.decode(errors="replace")


@contextlib.asynccontextmanager
async def _running(
    argv: Sequence[str], *, cwd: Path, env: Mapping[str, str]
) -> AsyncIterator[asyncio.subprocess.Process]:
    """Start a child in its own session; on any exit through an exception, kill its group."""
    if not argv:
        raise ValueError("empty command")
    try:
        process = await asyncio.create_subprocess_exec(
            *argv,
            cwd=cwd,
            env=dict(env),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
    except FileNotFoundError as error:
        missing = argv[0] if error.filename in (None, argv[0]) else str(error.filename)
        raise BuildFailed(f"{missing} not found") from error
    except PermissionError as error:
        raise BuildFailed(f"{argv[0]} cannot be executed") from error
    try:
        yield process
    except BaseException:
        await _stop(process)
        raise


async def _stop(process: asyncio.subprocess.Process) -> None:
    """Kill the child's whole process group and reap the child."""
    # The child leads its own group (start_new_session), so its pid is the group id.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    await process.wait()


async def _pump(stream: asyncio.StreamReader | None, out: output.Output) -> None:
    """Pass a stream's lines (without newline) on as notes, splitting over-long lines."""
    # Not an async generator: one abandoned on cancellation would be finalized later, as a task.
    assert stream is not None
    pending = bytearray()
    while chunk := await stream.read(_CHUNK):
        pending += chunk
        while (end := pending.find(b"\n")) >= 0 or len(pending) >= MAX_LINE:
            if 0 <= end <= MAX_LINE:
                await output.note(out, _decoded(pending[:end]))
                del pending[: end + 1]
            else:
                await output.note(out, _decoded(pending[:MAX_LINE]))
                del pending[:MAX_LINE]
    if pending:
        await output.note(out, _decoded(pending))


def _decoded(raw: bytes | bytearray) -> str:
    return bytes(raw).decode(errors="replace").removesuffix("\r")


def _check(argv: Sequence[str], code: int) -> None:
    """Turn a non-zero exit into a one-line `BuildFailed`."""
    if code == 0:
        return
    if code < 0:
        try:
            killer = signal.Signals(-code).name
        except ValueError:
            killer = f"signal {-code}"
        raise BuildFailed(f"{_described(argv)} was killed by {killer}")
    raise BuildFailed(f"{_described(argv)} exited with code {code}")


def _described(argv: Sequence[str]) -> str:
    """A short name for a command: `python3 -m pip install`, `npm install`, `sh`."""
    words = [Path(argv[0]).name]
    rest = list(argv[1:])
    flags = 0  # interpreter flags before `-m`, as in `python3 -I -m pip`
    while flags < len(rest) and rest[flags].startswith("-") and rest[flags] not in ("-m", "-c"):
        flags += 1
    if rest[flags : flags + 1] == ["-m"] and len(rest) > flags + 1:
        words += ["-m", rest[flags + 1]]
        rest = rest[flags + 2 :]
    if rest and not rest[0].startswith("-"):
        words.append(rest[0])
    return " ".join(words)
