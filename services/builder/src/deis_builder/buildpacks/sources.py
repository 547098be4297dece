"""Reading the files of a pushed tree that steer the build: Procfile, requirements, package.json.

The tree is hostile: `git archive` keeps symlinks, so `requirements.txt` could point at a file
of the builder's own and have pip quote it back through the build output. Only regular files
are read, with a size cap, as UTF-8; every refusal is a one-line `BuildFailed`.

This is a guard against reading, not a sandbox: installing dependencies runs the app's own code
(setup scripts, npm package scripts) with the builder's rights, so the builder must run builds
as an unprivileged user in a disposable environment.
"""

from pathlib import Path

from deis_builder.errors import BuildFailed

MAX_SIZE = 1024 * 1024
"""Bytes a steering file may hold; a Procfile or requirements file is a few hundred."""


def present(path: Path) -> bool:
    """Whether the push holds this file (as anything: a symlink counts, and is refused on read)."""
    return path.is_symlink() or path.exists()


def read_bytes(path: Path, *, app_dir: Path) -> bytes:
    """Read a pushed file's bytes, refusing symlinks, non-files and oversized files.

    Args:
        path: the file, inside `app_dir`.
        app_dir: the pushed tree, to name the file relative to it in errors.

    Raises:
        BuildFailed: the file is a symlink, not a regular file, or larger than `MAX_SIZE`.
    """
    name = path.relative_to(app_dir).as_posix()
    if path.is_symlink():
        raise BuildFailed(f"{name} is a symlink; push a regular file")
    if not path.is_file():
        raise BuildFailed(f"{name} is not a regular file")
    if path.stat().st_size > MAX_SIZE:
        raise BuildFailed(f"{name} is larger than {MAX_SIZE // 1024} KiB")
    return path.read_bytes()


def read_text(path: Path, *, app_dir: Path) -> str:
    """Read a pushed file as UTF-8 text, with the checks of `read_bytes`.

    Raises:
        BuildFailed: as `read_bytes`, or the file is not UTF-8.
    """
    try:
        return read_bytes(path, app_dir=app_dir).decode()
    except UnicodeDecodeError as error:
        name = path.relative_to(app_dir).as_posix()
        raise BuildFailed(f"{name} is not UTF-8 text") from error
