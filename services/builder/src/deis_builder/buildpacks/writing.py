"""Changes the builder makes in a build's tree: made inside the build's sandbox, as the build.

The pushed tree holds whatever the user pushed, and the app's code has run in it (pip and npm
run package scripts): any path there may be a symlink leading anywhere. Root following one
would write where the build may not, so the builder never writes in the tree itself; the
sandbox's own `sh` and coreutils do, where a symlink leads only to what the build may touch.
"""

import asyncio
import contextlib
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Final

from deis_builder.buildpacks import output, running
from deis_builder.errors import BuildFailed
from deis_shared.sandbox import Sandbox

_WRITE: Final = (
    'set -eu; dir=$(dirname -- "$1"); if [ -L "$dir" ]; then rm -f -- "$dir"; fi;'
    ' mkdir -p -- "$dir"; rm -rf -- "$1"; cat > "$1"'
)
_REMOVE: Final = 'rm -rf -- "$1"'
_LINK: Final = (
    'set -eu; dir=$1; target=$2; shift 2; if [ -L "$dir" ]; then rm -f -- "$dir"; fi;'
    ' mkdir -p -- "$dir"; for name; do rm -rf -- "$dir/$name"; ln -s -- "$target" "$dir/$name";'
    " done"
)


async def write_file(
    path: Path, data: bytes, *, sandbox: Sandbox, env: Mapping[str, str], out: output.Output
) -> None:
    """Write `data` as the file `path` (replacing what is there, making its directory).

    Raises:
        BuildFailed: the build's tree does not let it be written.
    """
    staged = await asyncio.to_thread(_staged, data)
    try:
        await _sh(_WRITE, path, sandbox=sandbox, env=env, out=out, stdin=staged)
    finally:
        await asyncio.to_thread(staged.unlink)


async def remove(
    path: Path, *, sandbox: Sandbox, env: Mapping[str, str], out: output.Output
) -> None:
    """Remove `path` and what it holds, if anything is there.

    Raises:
        BuildFailed: it cannot be removed.
    """
    await _sh(_REMOVE, path, sandbox=sandbox, env=env, out=out)


async def symlink(
    directory: Path,
    names: tuple[str, ...],
    *,
    target: str,
    sandbox: Sandbox,
    env: Mapping[str, str],
    out: output.Output,
) -> None:
    """Make each of `names` in `directory` (made if missing) a symlink to `target`.

    Raises:
        BuildFailed: the links cannot be made.
    """
    await _sh(_LINK, directory, target, *names, sandbox=sandbox, env=env, out=out)


async def _sh(
    script: str,
    path: Path,
    *args: str,
    sandbox: Sandbox,
    env: Mapping[str, str],
    out: output.Output,
    stdin: Path | None = None,
) -> None:
    argv = ["sh", "-c", script, "sh", str(path), *args]
    cwd = Path(sandbox.workdir)  # `path`'s directory may not be there yet
    try:
        await running.run(argv, sandbox=sandbox, cwd=cwd, env=env, out=out, stdin=stdin)
    except BuildFailed as exc:
        raise BuildFailed(f"{path.name} could not be changed in the build's tree ({exc})") from exc


def _staged(data: bytes) -> Path:
    """`data` in a file of the builder's own (0600), for a sandboxed `cat` to read as stdin."""
    descriptor, name = tempfile.mkstemp(prefix="deis-build-")
    with contextlib.ExitStack() as cleanup:
        cleanup.callback(os.unlink, name)
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
        cleanup.pop_all()
    return Path(name)
