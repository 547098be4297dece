"""A release's slug: downloaded from the object store, unpacked into the app directory, read.

The app directory is the pod's `emptyDir` at `/app`, which outlives a restarted container: it
is emptied before each unpack, so a restart runs the release as built, never on top of what
the last run left. `tar` unpacks (GNU tar refuses member names that climb out with `..` and
strips leading `/`), without the archive's owners: the files belong to the user running.

`.deis/slug.json`, written by the builder, gives the process types and the env of every
process; its format, and how it is read, are `deis_shared.slugs`'s.
"""

import asyncio
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from deis_shared import errors, slugs as slug_manifests
from deis_shared.objectstore import errors as store_errors
from deis_shared.objectstore.base import ObjectStore

TARBALL: Final = "slug.tar.gz"
"""The downloaded slug's name in the scratch directory."""


class SlugError(errors.PermanentError):
    """A slug that cannot be run: none under the key, a broken tarball, unreadable metadata."""


@dataclass(frozen=True)
class Slug:
    """What an unpacked slug says about itself (empty when it has no `.deis/slug.json`)."""

    env: dict[str, str]
    """The env to set for every process, unexpanded (`$HOME`, `$PATH`)."""
    process_types: dict[str, str]
    """Process type to command line."""


async def download(store: ObjectStore, *, key: str, scratch: Path) -> Path:
    """Download the slug under `key` into `scratch`, and return the tarball's path.

    Raises:
        SlugError: no object under `key`, or the key is refused.
        ObjectStoreUnavailable: the store cannot be reached; retry later.
    """
    tarball = scratch / TARBALL
    try:
        await store.get_file(key=key, path=tarball)
    except (store_errors.ObjectNotFound, store_errors.InvalidKey) as error:
        raise SlugError(f"no slug at {key!r}: {error}") from error
    return tarball


async def unpack(tarball: Path, *, into: Path) -> None:
    """Empty the directory `into` (created if missing), then unpack `tarball` into it.

    Raises:
        SlugError: the tarball does not unpack.
    """
    await asyncio.to_thread(_emptied, into)
    process = await asyncio.create_subprocess_exec(
        "tar",
        "--extract",
        "--gzip",
        "--no-same-owner",
        "--file",
        str(tarball),
        "--directory",
        str(into),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await process.communicate()
    if process.returncode != 0:
        reason = stderr.decode(errors="replace").strip().splitlines()
        raise SlugError(
            "the slug does not unpack: "
            + (reason[-1] if reason else f"tar exited with code {process.returncode}")
        )


def read(app_dir: Path) -> Slug:
    """Read the unpacked slug's `.deis/slug.json`, if it has one.

    Raises:
        SlugError: the metadata is not JSON, or not an object of the expected shape.
    """
    try:
        manifest = slug_manifests.read(app_dir)
    except slug_manifests.InvalidManifest as error:
        raise SlugError(str(error)) from error
    return Slug(env=dict(manifest.env), process_types=dict(manifest.process_types))


def _emptied(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for child in directory.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()
