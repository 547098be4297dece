"""The sandbox of a build: the one place that decides what a build may see and do.

Every subprocess of a build starts through `running`, confined by `deis_shared.sandbox.confine`
in the `Sandbox` made here: unpacking the pushed source, the Python probe, pip and npm with the
package scripts they run, the dependency cache's copies, writing the slug's metadata, packing
the slug. A build

- runs as a user id of its own per app (`settings.build_uids`, apart from the ids apps run
  as), never root;
- sees the system read-only (`/usr`, `/etc`), a private `/tmp`, its own processes only (a PID
  namespace, killed with the builder), and may have `build_max_processes` at once;
- may write only its tree (the app at `app/`, `HOME` at `home/`) and the app's cache dir, both
  mounted at the paths they have on the host, so that buildpack code passes host paths as they
  are;
- shares the host's network, for package installs;
- gets an environment of the sandbox's PATH, its HOME, the locale and zone, the buildpack's
  variables and the operator's `build_env` (`environment`): nothing of the platform.

Repositories, the SSH host key, the rest of the data dir and other apps' caches are not there;
nor are the source and slug tarballs, which tar reads on its standard input and writes on its
standard output.

Once the tree and the cache are the build's, the builder (root, often) writes nothing in them
and follows no path through them, since a build may leave a symlink there for it to follow. It
only reads the steering files (Procfile, requirements, package.json) before any of the app's
code runs, refusing symlinks (`sources`); everything else happens inside the sandbox
(`writing`, `caching`).

    <data_dir>/builds/<id>/          the builder's (0711): source.tar.gz, slug.tar.gz
    <data_dir>/builds/<id>/tree/     the build's (0700), mounted: app/, home/
    <data_dir>/cache/<app>/          the build's (0700), mounted
"""

import os
import shutil
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from deis_shared.sandbox import (
    SYSTEM_DIRS,
    SYSTEM_LINKS,
    SYSTEM_PATH,
    Mount,
    Sandbox,
    SandboxUnavailable,
)

PRIVATE: Final = 0o700
PASSABLE: Final = 0o711
"""Directories build user ids pass through without listing them."""
DEFAULT_LANG: Final = "C.UTF-8"
"""The locale of builds when the builder has none: pip and npm read UTF-8 files."""


@dataclass(frozen=True)
class Workspace:
    """The directories of one build, with absolute paths."""

    work: Path
    """The builder's directory of the build (the tarballs), closed to the build."""
    tree: Path
    """The build's own directory, mounted writable."""
    app_dir: Path
    """The pushed source, then the slug: `tree/app`."""
    home: Path
    """The build's `HOME`: `tree/home`."""
    cache_dir: Path
    """The app's cache, kept between builds, mounted writable."""
    uid: int | None
    """The user id the build runs as; None: the builder's own (the builder is not root)."""


def prepare(*, work: Path, cache_dir: Path, uid: int | None) -> Workspace:
    """Make a build's directories: `work` (new), its tree, and the app's cache dir, for `uid`.

    A cache dir that is not `uid`'s (made before builds were confined, or left by another id)
    is emptied rather than trusted. Blocking: call it in a thread.

    Raises:
        OSError: a directory cannot be made or given to `uid`; `work` exists already.
    """
    work, cache_dir = Path(os.path.abspath(work)), Path(os.path.abspath(cache_dir))
    work.parent.mkdir(mode=PASSABLE, parents=True, exist_ok=True)
    work.mkdir(mode=PASSABLE)
    work.chmod(PASSABLE)
    space = Workspace(
        work=work,
        tree=work / "tree",
        app_dir=work / "tree" / "app",
        home=work / "tree" / "home",
        cache_dir=cache_dir,
        uid=uid,
    )
    for directory in (space.tree, space.app_dir, space.home):
        directory.mkdir(mode=PRIVATE)
        _give(directory, uid)
    _own_cache(cache_dir, uid)
    return space


def build_sandbox(space: Workspace, *, app: str, max_processes: int) -> Sandbox:
    """The sandbox every step of `app`'s build runs in (each step picks its working dir)."""
    return Sandbox(
        uid=space.uid,
        mounts=(
            Mount(space.tree, str(space.tree), writable=True),
            Mount(space.cache_dir, str(space.cache_dir), writable=True),
        ),
        workdir=str(space.app_dir),
        hostname=app,
        max_processes=max_processes,
        die_with_parent=True,
    )


def environment(base: Mapping[str, str], *, home: Path) -> dict[str, str]:
    """The environment of build commands: `base` (locale, `build_env`), PATH and HOME.

    PATH is the sandbox's, which finds the system's programs under `/usr`, and HOME is the
    build's own; `base` overrides neither.
    """
    env = dict(base)
    if "LANG" not in env and "LC_ALL" not in env:
        env["LANG"] = DEFAULT_LANG
    return {**env, "PATH": SYSTEM_PATH, "HOME": str(home)}


def in_system(path: str) -> bool:
    """Whether a program of the host is there in every sandbox: it lies in the system's trees.

    A build's tools (python3, node, npm) must be, and so must the interpreter a slug links to,
    since apps' sandboxes see the same trees and nothing else of the system: the path itself
    and where its links lead (a virtualenv's `python` leads into `/usr`, but is not there).
    """
    if not os.path.isabs(path):
        return False
    trees = (*SYSTEM_DIRS, *SYSTEM_LINKS)
    return all(
        any(place == tree or place.startswith(tree + "/") for tree in trees)
        for place in (os.path.normpath(path), os.path.realpath(path))
    )


def open_data_dir(*, data_dir: Path, scratch: Path, caches: Path, repos: Path) -> None:
    """Let build user ids pass through the data dir to builds and caches, and no further.

    `data_dir` gains `o+x`, `scratch` and `caches` are 0711 (passable, not listable), `repos`
    is 0700. Only for a root builder: otherwise builds run as the builder's own user id.
    Blocking: call it in a thread.

    Raises:
        SandboxUnavailable: a directory above `data_dir` is closed to other users, so builds
            could not reach their trees; the message says which.
        OSError: a directory cannot be made or changed.
    """
    for directory in (data_dir, scratch, caches, repos):
        directory.mkdir(mode=PASSABLE, parents=True, exist_ok=True)
    data_dir.chmod(stat.S_IMODE(data_dir.stat().st_mode) | stat.S_IXOTH)
    scratch.chmod(PASSABLE)
    caches.chmod(PASSABLE)
    repos.chmod(PRIVATE)
    for target in (scratch, caches):
        for directory in Path(os.path.abspath(target)).parents:
            if not directory.stat().st_mode & stat.S_IXOTH:
                raise SandboxUnavailable(
                    f"builds run as user ids of their own, which cannot pass through"
                    f" {directory} to reach {target}: let others pass (chmod o+x {directory})"
                    f" or choose a data dir they can reach, such as /var/lib/deis/builder"
                )


def _give(path: Path, uid: int | None) -> None:
    if uid is not None:
        os.chown(path, uid, uid, follow_symlinks=False)


def _own_cache(cache_dir: Path, uid: int | None) -> None:
    owner = uid if uid is not None else os.geteuid()
    try:
        info: os.stat_result | None = os.lstat(cache_dir)
    except FileNotFoundError:
        info = None
    if info is not None and (not stat.S_ISDIR(info.st_mode) or info.st_uid != owner):
        if stat.S_ISDIR(info.st_mode):
            shutil.rmtree(cache_dir)
        else:
            cache_dir.unlink()
        info = None
    if info is None:
        cache_dir.parent.mkdir(mode=PASSABLE, parents=True, exist_ok=True)
        cache_dir.mkdir(mode=PRIVATE)
        _give(cache_dir, uid)
    cache_dir.chmod(PRIVATE)
