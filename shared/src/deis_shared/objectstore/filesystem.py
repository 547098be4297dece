"""`FilesystemStore`: objects as files under one directory, for the embedded platform.

Every blocking call runs in `asyncio.to_thread`, keys become paths only through
`keys.path_under` (which also refuses symlinks leading out of the root), writes go through
`staging.StagedFile` (temp file in the same directory, then rename), so readers see old or new
objects whole. Files are created 0640 and directories 0750 whatever the umask; directories are
created on demand and pruned when a delete leaves them empty (a write racing that prune retries).

Unlike S3, a key cannot be both an object and a folder (`a` and `a/b`): such a write is refused
with `InvalidKey`. Our key layouts never do this.
"""

import asyncio
import builtins
import contextlib
import os
import shutil
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from deis_shared.objectstore import errors, keys, staging

FILE_MODE = 0o640
"""Permission bits of stored objects."""

DIR_MODE = 0o750
"""Permission bits of directories the store creates."""

CHUNK_SIZE = 1024 * 1024
"""Bytes copied at a time by `put_file` and `get_file`."""

_WRITE_ATTEMPTS = 3


@contextlib.contextmanager
def _mapping_os_errors(key: str, *, writing: bool) -> Iterator[None]:
    try:
        yield
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError, FileExistsError) as exc:
        if writing:
            raise errors.InvalidKey(f"key {key!r} conflicts with a stored object") from exc
        raise errors.ObjectNotFound(key) from exc
    except OSError as exc:
        raise errors.ObjectStoreError(f"cannot access {key!r}: {exc}") from exc


class FilesystemStore:
    """An `ObjectStore` in a local directory (created on first write)."""

    def __init__(self, root: Path, *, fsync: bool = False) -> None:
        """Use `root` as the store's directory.

        Args:
            root: directory holding the objects; created on demand.
            fsync: flush each object to disk before it becomes visible.
        """
        self.root = root
        self._fsync = fsync

    async def prepare(self) -> None:
        """Create the root directory (0750) if it is missing, so a bad root fails at start-up.

        Raises:
            ObjectStoreError: the root cannot be created.
        """
        with _mapping_os_errors(str(self.root), writing=True):
            await asyncio.to_thread(self._make_dirs, self.root)

    async def put_bytes(self, *, key: str, data: bytes) -> None:
        """Store `data` under `key` atomically. See `base.ObjectStore.put_bytes`."""
        keys.validate_key(key)
        await asyncio.to_thread(self._write, key, lambda file: file.write(data))

    async def get_bytes(self, key: str) -> bytes:
        """Return the object under `key`. See `base.ObjectStore.get_bytes`."""
        keys.validate_key(key)
        return await asyncio.to_thread(self._read_bytes, key)

    async def put_file(self, *, key: str, path: Path) -> None:
        """Copy the file at `path` under `key` atomically. See `base.ObjectStore.put_file`."""
        keys.validate_key(key)
        await asyncio.to_thread(self._put_file, key, path)

    async def get_file(self, *, key: str, path: Path) -> None:
        """Copy the object under `key` to `path` atomically. See `base.ObjectStore.get_file`."""
        keys.validate_key(key)
        await asyncio.to_thread(self._get_file, key, path)

    async def exists(self, key: str) -> bool:
        """Return whether an object is stored under `key`."""
        keys.validate_key(key)
        return await asyncio.to_thread(self._exists, key)

    async def delete(self, key: str) -> None:
        """Delete the object under `key`, if any, and prune emptied directories."""
        keys.validate_key(key)
        await asyncio.to_thread(self._delete, key)

    async def list(self, prefix: str) -> AsyncIterator[str]:
        """Yield the keys starting with `prefix`, sorted. See `base.ObjectStore.list`."""
        keys.validate_prefix(prefix)
        for key in await asyncio.to_thread(self._list, prefix):
            yield key

    async def delete_prefix(self, prefix: str) -> int:
        """Delete every object under `prefix`; return how many were deleted."""
        keys.validate_prefix(prefix)
        return await asyncio.to_thread(self._delete_prefix, prefix)

    async def size(self, key: str) -> int:
        """Return the size of the object under `key`, in bytes."""
        keys.validate_key(key)
        return await asyncio.to_thread(self._size, key)

    # Blocking implementations, run in worker threads.

    def _path(self, key: str) -> Path:
        return keys.path_under(self.root, key)

    def _make_dirs(self, directory: Path) -> None:
        missing: builtins.list[Path] = []
        while not directory.is_dir():
            missing.append(directory)
            directory = directory.parent
        for path in reversed(missing):
            try:
                path.mkdir(mode=DIR_MODE)
            except FileExistsError:
                if not path.is_dir():
                    raise
            else:
                path.chmod(DIR_MODE)

    def _stage(self, key: str) -> staging.StagedFile:
        target = self._path(key)
        for _ in range(_WRITE_ATTEMPTS - 1):
            self._make_dirs(target.parent)
            try:
                return staging.StagedFile(target, mode=FILE_MODE, fsync=self._fsync)
            except FileNotFoundError:
                continue  # a concurrent delete pruned the directory we just made
        self._make_dirs(target.parent)
        return staging.StagedFile(target, mode=FILE_MODE, fsync=self._fsync)

    def _write(self, key: str, fill: Callable[[BinaryIO], object]) -> None:
        with _mapping_os_errors(key, writing=True):
            staged = self._stage(key)
        try:
            fill(staged.file)
        except BaseException:
            staged.discard()
            raise
        with _mapping_os_errors(key, writing=True):
            staged.commit()

    def _read_bytes(self, key: str) -> bytes:
        with _mapping_os_errors(key, writing=False):
            return self._path(key).read_bytes()

    def _put_file(self, key: str, source: Path) -> None:
        with source.open("rb") as src:  # the caller's file: its errors propagate unmapped
            self._write(key, lambda dst: shutil.copyfileobj(src, dst, CHUNK_SIZE))

    def _get_file(self, key: str, destination: Path) -> None:
        with _mapping_os_errors(key, writing=False):
            src = self._path(key).open("rb")
        with src:
            destination.parent.mkdir(parents=True, exist_ok=True)
            staged = staging.StagedFile(destination, mode=FILE_MODE)
            try:
                shutil.copyfileobj(src, staged.file, CHUNK_SIZE)
            except BaseException:
                staged.discard()
                raise
            staged.commit()

    def _exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def _size(self, key: str) -> int:
        with _mapping_os_errors(key, writing=False):
            path = self._path(key)
            if path.is_dir():
                raise errors.ObjectNotFound(key)
            return path.stat().st_size

    def _delete(self, key: str) -> None:
        path = self._path(key)
        with contextlib.suppress(FileNotFoundError, NotADirectoryError, IsADirectoryError):
            path.unlink()
        self._prune(path.parent)

    def _prune(self, directory: Path) -> None:
        """Remove `directory` and its parents while they are empty, stopping at the root."""
        root = self.root.resolve()
        while directory.resolve() != root and directory.resolve().is_relative_to(root):
            try:
                directory.rmdir()
            except OSError:  # not empty (or already gone): nothing more to prune
                return
            directory = directory.parent

    def _list(self, prefix: str) -> builtins.list[str]:
        folder, _, _ = prefix.rpartition("/")
        base = self._path(folder) if folder else self.root
        found: builtins.list[str] = []
        for dirpath, _dirnames, filenames in os.walk(base):
            for name in filenames:
                path = Path(dirpath, name)
                key = path.relative_to(self.root).as_posix()
                if key.startswith(prefix) and keys.is_valid_key(key) and not path.is_symlink():
                    found.append(key)
        found.sort()
        return found

    def _delete_prefix(self, prefix: str) -> int:
        deleted = 0
        for key in self._list(prefix):
            path = self._path(key)
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                deleted += 1
            self._prune(path.parent)
        return deleted
