"""Running a build step's subprocess: confined, output streamed, the whole group killed on stop.

Every child runs in the build's sandbox (`sandboxing`, `deis_shared.sandbox.confine`), as the
build's user id: `run` and `capture` have no other way to start a process. The command's
working directory is the sandbox's (mounted at the same path as on the host); bwrap itself
starts from `/`.

Every child starts in a session (and so a process group) of its own, so that stopping a build
also stops what the step spawned: pip runs compilers, npm runs package scripts, and a script
can background a process. When the caller cancels (the build time limit is an `asyncio.timeout`
around the whole compile), the group gets SIGKILL, the child is reaped, and the cancellation
goes on; no orphan outlives its build.

Output is read in chunks rather than with `readline`, so that a line of any length (a minified
file echoed by a package script) cannot overrun the stream's buffer; a line longer than
`MAX_LINE` is passed on in pieces.

A step may read its standard input from a file of the builder's and write its standard output
to one (tar unpacking the source, packing the slug): the builder opens them, so the sandbox
never sees their paths.
"""

import asyncio
import contextlib
import dataclasses
import os
import shutil
import signal
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path

from deis_builder.buildpacks import output
from deis_builder.errors import BuildFailed
from deis_shared import sandbox as sandboxes

MAX_LINE = 64 * 1024
"""Bytes of one output line passed on at once; longer lines are split."""
MAX_CAPTURE = 1024 * 1024
"""Bytes `capture` keeps; a probe printing more is cut short."""
_CHUNK = 64 * 1024
_SIGNALLED = 128


async def run(
    argv: Sequence[str],
    *,
    sandbox: sandboxes.Sandbox,
    cwd: Path,
    env: Mapping[str, str],
    out: output.Output,
    stdin: Path | None = None,
    stdout: Path | None = None,
) -> None:
    """Run a command in the sandbox, streaming its output (stderr merged) as indented notes.

    Args:
        argv: the command and its arguments; `argv[0]` is looked up on `env["PATH"]`.
        sandbox: the build's sandbox.
        cwd: the working directory, inside the sandbox (a mounted path).
        env: the child's whole environment.
        out: where each output line goes, indented under the current step.
        stdin: a file of the builder's to read as standard input; None: nothing.
        stdout: a file of the builder's to create (it must not exist) with the standard
            output; then only stderr goes to `out`.

    Raises:
        BuildFailed: the command is missing or not executable, or exited with non-zero code.
        asyncio.CancelledError: the caller cancelled; the child's process group is killed.
    """
    async with _running(
        argv, sandbox=sandbox, cwd=cwd, env=env, stdin=stdin, stdout=stdout
    ) as process:
        await _pump(process.stdout if stdout is None else process.stderr, out)
        code = await process.wait()
    _check(argv, code)


async def capture(
    argv: Sequence[str],
    *,
    sandbox: sandboxes.Sandbox,
    cwd: Path,
    env: Mapping[str, str],
    stdin: Path | None = None,
) -> str:
    """Run a short command in the sandbox and return its output (stderr merged), for probing.

    Args:
        argv: the command and its arguments; `argv[0]` is looked up on `env["PATH"]`.
        sandbox: the build's sandbox.
        cwd: the working directory, inside the sandbox (a mounted path).
        env: the child's whole environment.
        stdin: a file of the builder's to read as standard input; None: nothing.

    Returns:
        At most `MAX_CAPTURE` bytes of output, decoded (undecodable bytes replaced).

    Raises:
        BuildFailed: the command is missing or not executable, or exited with non-zero code.
        asyncio.CancelledError: the caller cancelled; the child's process group is killed.
    """
    kept = bytearray()
    async with _running(argv, sandbox=sandbox, cwd=cwd, env=env, stdin=stdin) as process:
        assert process.stdout is not None
        while chunk := await process.stdout.read(_CHUNK):
            kept += chunk[: MAX_CAPTURE - len(kept)]
        code = await process.wait()
    _check(argv, code)
    return kept.decode(errors="replace")


@contextlib.asynccontextmanager
async def _running(
    argv: Sequence[str],
    *,
    sandbox: sandboxes.Sandbox,
    cwd: Path,
    env: Mapping[str, str],
    stdin: Path | None = None,
    stdout: Path | None = None,
) -> AsyncIterator[asyncio.subprocess.Process]:
    """Start a confined child in its own session; on an exit through an exception, kill it."""
    if not argv:
        raise ValueError("empty command")
    # The sandbox sees the host's /usr and the mounts at their own paths, so the host can
    # tell a missing program apart from a failing one (bwrap would only exit with 1).
    if shutil.which(argv[0], path=env.get("PATH", os.defpath)) is None:
        raise BuildFailed(f"{argv[0]} not found")
    confined = sandboxes.confine(argv, dataclasses.replace(sandbox, workdir=str(cwd)))
    descriptors: list[int] = []
    try:
        if stdin is not None:
            descriptors.append(os.open(stdin, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC))
        if stdout is not None:
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
            descriptors.append(os.open(stdout, flags, 0o600))
        process = await asyncio.create_subprocess_exec(
            *confined.argv,
            cwd="/",
            env=dict(env),
            user=confined.uid,
            group=confined.gid,
            extra_groups=[] if confined.uid is not None else None,
            stdin=descriptors[0] if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=descriptors[-1] if stdout is not None else asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE if stdout is not None else asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
    except FileNotFoundError as error:
        if error.filename in (sandboxes.BWRAP, sandboxes.PRLIMIT):
            raise BuildFailed(
                f"{error.filename} not found: builds run only in a sandbox"
                " (Debian: apt-get install bubblewrap util-linux)"
            ) from error
        raise
    finally:
        for descriptor in descriptors:
            os.close(descriptor)
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
    """Turn a non-zero exit into a one-line `BuildFailed`.

    bwrap exits with 128 + n when the command dies of signal n, as shells report it; a
    negative code is bwrap itself killed (the build stopped).
    """
    if code == 0:
        return
    signum = -code if code < 0 else code - _SIGNALLED
    if signum > 0:
        try:
            killer = signal.Signals(signum).name
        except ValueError:
            killer = None
        if killer is not None:
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
