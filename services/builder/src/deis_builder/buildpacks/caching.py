"""The per-app dependency cache: the last installed tree, reused while its inputs are unchanged.

A buildpack keys what it installs (a hash of the requirements and the tool's version), and
keeps the last tree it installed next to that key:

    <cache_dir>/python/key     <cache_dir>/python/site
    <cache_dir>/node/key       <cache_dir>/node/node_modules

A push whose key matches gets a copy of the tree and runs no installer at all. Copies are hard
links where the file system allows (cache and slug usually share one), else plain copies.

The tree is replaced so that a crash at any point leaves either no key or a key that matches
its tree: the key goes first, the new tree is copied aside and renamed into place, and the new
key is written last (also by rename). Copying runs in a thread; a cancelled build waits for the
copy to end, so that no thread still writes into a directory its caller is about to remove.
"""

import asyncio
import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

_TEMP_PREFIX = ".tmp-"


def key_of(*parts: bytes | str) -> str:
    """A cache key over the given inputs, each one delimited so that no two lists collide."""
    digest = hashlib.sha256()
    for part in parts:
        raw = part.encode() if isinstance(part, str) else part
        digest.update(len(raw).to_bytes(8, "big"))
        digest.update(raw)
    return digest.hexdigest()


@dataclass(frozen=True)
class TreeCache:
    """One cached tree and its key, under `root`."""

    root: Path
    """The buildpack's directory in the app's cache (`<cache_dir>/python`)."""
    name: str
    """The tree's name in `root` (`site`, `node_modules`)."""

    @property
    def tree(self) -> Path:
        """The cached tree."""
        return self.root / self.name

    @property
    def key_file(self) -> Path:
        """The file holding the key the cached tree was installed for."""
        return self.root / "key"

    def holds(self, key: str) -> bool:
        """Whether the cached tree was installed for this key."""
        try:
            return self.key_file.read_text() == key and self.tree.is_dir()
        except FileNotFoundError:
            return False

    async def restore(self, *, into: Path) -> None:
        """Copy the cached tree to `into`, which must not exist yet."""
        await _in_thread(lambda: _copy_tree(self.tree, into))

    async def store(self, *, key: str, source: Path) -> None:
        """Replace the cached tree with a copy of `source` (empty if missing), under `key`."""
        await _in_thread(lambda: self._replace(key=key, source=source))

    def _replace(self, *, key: str, source: Path) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        for leftover in self.root.glob(f"{_TEMP_PREFIX}*"):
            shutil.rmtree(leftover, ignore_errors=True)
        self.key_file.unlink(missing_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=_TEMP_PREFIX, dir=self.root))
        if source.is_dir():
            _copy_tree(source, staging / self.name)
        else:
            (staging / self.name).mkdir()
        if self.tree.exists():
            self.tree.rename(staging / "old")
        (staging / self.name).rename(self.tree)
        shutil.rmtree(staging)
        written = self.root / f"{_TEMP_PREFIX}key"
        written.write_text(key)
        written.replace(self.key_file)


def _copy_tree(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(source, target, symlinks=True, copy_function=_link_or_copy)


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


async def _in_thread(work: Callable[[], None]) -> None:
    """Run blocking file work in a thread; on cancellation, let it finish before going on."""
    done = asyncio.ensure_future(asyncio.to_thread(work))
    try:
        await asyncio.shield(done)
    except asyncio.CancelledError:
        await asyncio.wait({done})
        if not done.cancelled():
            done.exception()  # looked at, so not logged as unretrieved: the cancellation wins
        raise
