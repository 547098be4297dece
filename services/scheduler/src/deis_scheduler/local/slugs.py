"""Slugs fetched from the object store and unpacked once per release, plus the processes' env.

Layout under the cache's root:

    <root>/slugs/<app>/<sha>.tar.gz          the slug, downloaded once per (app, sha)
    <root>/apps/<app>/v<version>-<sha>/      unpacked once per release: the processes' cwd

A config change makes a new release of the same build, so releases share the tarball but each
gets its own directory: a running release's files never change under it. A release directory
appears whole or not at all: `tar` extracts into a temporary directory beside it, which is
renamed into place, so a crash mid-extraction leaves only a temporary directory that the next
attempt removes. One lock per app serialises the work of concurrent callers, which then find the
release unpacked.

App names and shas become path components only after validation: `deis_shared.appnames` for
names, lowercase hex for shas.

When the scheduler runs as root its processes run as `nobody` (see `processes`), who must be
able to read the release: the unpacked tree is made world-readable (directories 0755, files at
least 0644, executables 0755, setuid/setgid bits dropped, files owned by root via
`--no-same-owner`), and `<root>/apps/<app>` is created 0755. `<root>` and its parents must be
traversable by that user too; that is the caller's choice of `root`. Downloaded tarballs stay
private to the scheduler (`<root>/slugs` is 0700).

The slug's `.deis/slug.json` (written by the builder, read by `deis_shared.slugs`) gives the
process types and the env to set for every process, with `$HOME` standing for the slug's place
(`/app`) and `$PATH` for the PATH the process would otherwise get; see `process_env`.
"""

import asyncio
import contextlib
import os
import re
import shutil
import stat
import tempfile
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from deis_scheduler.local.sandboxing import APP_HOME
from deis_shared import appnames, errors, slugs as slug_manifests
from deis_shared.objectstore import errors as store_errors
from deis_shared.objectstore.base import ObjectStore

SHA_PATTERN: Final = re.compile(r"[0-9a-f]{7,40}", re.ASCII)
"""A git sha, full or abbreviated, as slugs are keyed; match with `fullmatch`."""

_HOME_REF: Final = re.compile(r"\$HOME(?![A-Za-z0-9_])")
_PATH_REF: Final = re.compile(r"\$PATH(?![A-Za-z0-9_])")
_UNPACKING: Final = ".unpacking-"


class SlugError(errors.PermanentError):
    """A slug that cannot be had: a refused app name or sha, no such slug, a broken tarball."""


@dataclass(frozen=True)
class UnpackedRelease:
    """A release's slug, unpacked and ready to run."""

    path: Path
    """The unpacked slug directory, mounted at `/app` in the processes' sandbox."""
    env: dict[str, str]
    """The slug's env, `$HOME` replaced by `/app`; `$PATH` is left for `process_env`."""
    process_types: dict[str, str]
    """Process type to command (empty when the slug has no `.deis/slug.json`)."""


class _AppLock:
    """A lock with a count of its users, so that idle locks can be forgotten."""

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.users = 0


class SlugCache:
    """Slugs downloaded and unpacked under one local directory."""

    def __init__(self, *, store: ObjectStore, root: Path) -> None:
        """Cache slugs from `store` under `root`.

        Args:
            store: where the builder put the slugs.
            root: the cache's directory (created on demand); see the module docstring for
                the permissions it needs.
        """
        self._store = store
        self._root = root
        self._locks: dict[str, _AppLock] = {}

    async def unpack(self, *, app: str, version: int, sha: str, slug_key: str) -> UnpackedRelease:
        """Return release `version` of `app` unpacked, downloading and unpacking it if needed.

        Args:
            app: the app name.
            version: the release number (`v<version>`).
            sha: the build's git sha, which names the slug.
            slug_key: the slug's object-store key (`slugs/<app>/<sha>.tar.gz`).

        Returns:
            The release directory, its env and its process types.

        Raises:
            SlugError: a refused name, sha or version, no slug under `slug_key`, or a slug
                that does not unpack or has unreadable metadata.
            ObjectStoreUnavailable: the store cannot be reached; retry later.
        """
        _validate(app=app, sha=sha)
        if isinstance(version, bool) or version < 0:
            raise SlugError(f"invalid release version {version!r} of {app}")
        target = self._root / "apps" / app / f"v{version}-{sha}"
        async with self._locked(app):
            if not await asyncio.to_thread(target.is_dir):
                tarball = await self._download(app=app, sha=sha, slug_key=slug_key)
                await _extract(tarball, target=target, app=app, version=version)
            return await asyncio.to_thread(_read_release, target, app=app, version=version)

    async def remove_app(self, app: str) -> None:
        """Delete every slug and release directory of `app`; nothing to delete is fine.

        Raises:
            SlugError: `app` is not a valid app name.
        """
        _validate(app=app)
        async with self._locked(app):
            for path in (self._root / "slugs" / app, self._root / "apps" / app):
                await asyncio.to_thread(shutil.rmtree, path, ignore_errors=True)

    async def _download(self, *, app: str, sha: str, slug_key: str) -> Path:
        tarball = self._root / "slugs" / app / f"{sha}.tar.gz"
        if await asyncio.to_thread(tarball.is_file):
            return tarball
        await asyncio.to_thread(_make_dirs, self._root / "slugs", mode=0o700)
        try:
            await self._store.get_file(key=slug_key, path=tarball)
        except (store_errors.ObjectNotFound, store_errors.InvalidKey) as error:
            raise SlugError(f"no slug for {app} at {sha}: {error}") from error
        return tarball

    @contextlib.asynccontextmanager
    async def _locked(self, app: str) -> AsyncIterator[None]:
        entry = self._locks.setdefault(app, _AppLock())
        entry.users += 1
        try:
            async with entry.lock:
                yield
        finally:
            entry.users -= 1
            if entry.users == 0:
                del self._locks[app]


def process_env(
    *,
    release: UnpackedRelease,
    base: Mapping[str, str],
    config: Mapping[str, str],
    extra: Mapping[str, str],
) -> dict[str, str]:
    """Build the whole environment of one process of a release.

    Layers, later ones winning: `base`, the app's `config`, the slug's env (each `$PATH` in it
    expanded to the PATH so far, or `os.defpath` when there is none), `HOME` (`/app`, where
    the sandbox mounts the release), then `extra`.

    Args:
        release: the unpacked release.
        base: what every process inherits from the scheduler (PATH, LANG, ...).
        config: the app's config vars (`deis config:set`).
        extra: what the scheduler sets per process (PORT, DEIS_APP, ...).

    Returns:
        A new dict.
    """
    env = {**base, **config}
    for name, value in release.env.items():
        env[name] = _expanded(value, ref=_PATH_REF, to=env.get("PATH", os.defpath))
    env["HOME"] = APP_HOME
    env.update(extra)
    return env


def _validate(*, app: str, sha: str | None = None) -> None:
    """The path boundary: refuse any name or sha that could leave the cache's directories."""
    try:
        appnames.validate_app_name(app)
    except appnames.InvalidAppName as error:
        raise SlugError(str(error)) from error
    if sha is not None and SHA_PATTERN.fullmatch(sha) is None:
        raise SlugError(f"invalid sha {sha!r}: 7 to 40 lowercase hex digits expected")


async def _extract(tarball: Path, *, target: Path, app: str, version: int) -> None:
    """Unpack `tarball` into `target` atomically: a temporary sibling directory, then rename."""
    scratch = await asyncio.to_thread(_scratch_dir, target)
    try:
        process = await asyncio.create_subprocess_exec(
            "tar",
            "--extract",
            "--gzip",
            "--no-same-owner",
            "--file",
            str(tarball),
            "--directory",
            str(scratch),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        _, stderr = await process.communicate()
        if process.returncode != 0:
            reason = stderr.decode(errors="replace").strip().splitlines()
            raise SlugError(
                f"the slug of {app} v{version} does not unpack: "
                + (reason[-1] if reason else f"tar exited with code {process.returncode}")
            )
        await asyncio.to_thread(_publish, scratch, target)
    except BaseException:
        await asyncio.to_thread(shutil.rmtree, scratch, ignore_errors=True)
        raise


def _make_dirs(path: Path, *, mode: int) -> None:
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(mode)


def _scratch_dir(target: Path) -> Path:
    """A fresh temporary directory beside `target`, after removing a crashed attempt's."""
    _make_dirs(target.parent.parent, mode=0o755)
    _make_dirs(target.parent, mode=0o755)
    for leftover in target.parent.glob(f"{_UNPACKING}{target.name}.*"):
        shutil.rmtree(leftover, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix=f"{_UNPACKING}{target.name}.", dir=target.parent))


def _publish(scratch: Path, target: Path) -> None:
    """Make the unpacked tree readable by an unprivileged user, then move it into place."""
    _open_up(scratch)
    for directory, dirs, files in os.walk(scratch):
        for name in dirs + files:
            _open_up(Path(directory) / name)
    scratch.rename(target)


def _open_up(path: Path) -> None:
    """Directories 0755; files `o+rX` (at least 0644, 0755 if executable), no setuid/setgid."""
    mode = path.lstat().st_mode
    if stat.S_ISLNK(mode):
        return
    if stat.S_ISDIR(mode):
        path.chmod(0o755)
    elif stat.S_ISREG(mode):
        bits = stat.S_IMODE(mode) & 0o777 | 0o644
        path.chmod(bits | 0o111 if bits & 0o111 else bits)


def _read_release(path: Path, *, app: str, version: int) -> UnpackedRelease:
    """Read `.deis/slug.json`, if present, into an `UnpackedRelease`."""
    try:
        manifest = slug_manifests.read(path, slug=f"{app} v{version}")
    except slug_manifests.InvalidManifest as error:
        raise SlugError(str(error)) from error
    home = APP_HOME
    return UnpackedRelease(
        path=path,
        env={
            name: _expanded(value, ref=_HOME_REF, to=home) for name, value in manifest.env.items()
        },
        process_types=dict(manifest.process_types),
    )


def _expanded(value: str, *, ref: re.Pattern[str], to: str) -> str:
    # A function replacement, so that backslashes in `to` are taken literally.
    return ref.sub(lambda _: to, value)
