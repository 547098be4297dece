"""Atomic file writes: a temp file beside the target, renamed onto it only when complete.

Both backends write through `StagedFile` (the filesystem backend for objects, both for
`get_file` destinations), so a reader never sees half an object or half a slug, and a crash or
cancellation leaves at most a temp file whose name is outside the key grammar (it holds `~`),
which listing skips. Its methods block: call them from `asyncio.to_thread`.
"""

import contextlib
import os
import tempfile
from pathlib import Path
from typing import BinaryIO

TEMP_PREFIX = ".~tmp~"
"""Start of every temp file name; `~` is not allowed in keys, so temp files never list."""


class StagedFile:
    """A temp file next to `target`: write to `file`, then `commit()` or `discard()`."""

    def __init__(self, target: Path, *, mode: int = 0o600, fsync: bool = False) -> None:
        """Create the temp file in `target`'s directory, which must exist.

        Args:
            target: where the finished file goes.
            mode: permission bits of the finished file (set explicitly, whatever the umask).
            fsync: flush the data to disk before the rename (durability across power loss).
        """
        self.target = target
        self._fsync = fsync
        fd, name = tempfile.mkstemp(dir=target.parent, prefix=TEMP_PREFIX)
        self.temp = Path(name)
        self.file: BinaryIO = os.fdopen(fd, "wb")
        try:
            os.fchmod(fd, mode)
        except BaseException:
            self.discard()
            raise

    def commit(self) -> None:
        """Close the temp file and rename it onto the target (replacing it atomically)."""
        try:
            self.file.flush()
            if self._fsync:
                os.fsync(self.file.fileno())
            self.file.close()
            os.replace(self.temp, self.target)
        except BaseException:
            self.discard()
            raise

    def discard(self) -> None:
        """Close and remove the temp file; safe to call twice."""
        self.file.close()
        with contextlib.suppress(FileNotFoundError):
            self.temp.unlink()
