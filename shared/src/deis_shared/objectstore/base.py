"""The `ObjectStore` protocol: exactly what the builder, scheduler and logger need, nothing more.

Callers store and fetch whole objects by key (`sources/<app>/<sha>.tar.gz`,
`slugs/<app>/<sha>.tar.gz`, `logs/<app>/<yyyy>/<mm>/<dd>/<hh>.log.gz`), list and purge an app's
prefix, and never see which backend holds them. File transfers stream: slugs can be 100+ MB.
Every method validates its key before any I/O (`keys`) and raises only the tree in `errors`.
"""

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Protocol


class ObjectStore(Protocol):
    """A flat namespace of immutable-once-written objects, addressed by `/`-separated keys."""

    async def put_bytes(self, *, key: str, data: bytes) -> None:
        """Store `data` under `key`, replacing any object there; readers see old or new, whole.

        Raises:
            InvalidKey: the key is refused.
            ObjectStoreUnavailable: the store cannot be reached.
        """
        ...

    async def get_bytes(self, key: str) -> bytes:
        """Return the whole object under `key` (for small objects; use `get_file` for slugs).

        Raises:
            ObjectNotFound: no object under `key`.
        """
        ...

    async def put_file(self, *, key: str, path: Path) -> None:
        """Upload the file at `path` under `key`, streamed, replacing any object there.

        Raises:
            InvalidKey: the key is refused.
            ObjectStoreUnavailable: the store cannot be reached.
        """
        ...

    async def get_file(self, *, key: str, path: Path) -> None:
        """Download `key` to `path`, streamed; `path` appears whole (temp file + rename) or not.

        Missing parent directories of `path` are created.

        Raises:
            ObjectNotFound: no object under `key`; `path` is left untouched.
        """
        ...

    async def exists(self, key: str) -> bool:
        """Return whether an object is stored under `key`."""
        ...

    async def delete(self, key: str) -> None:
        """Delete the object under `key`; deleting a missing object is not an error."""
        ...

    def list(self, prefix: str) -> AsyncIterator[str]:
        """Yield the keys starting with `prefix`, sorted; `logs/a/` does not match `logs/ab/x`.

        Close the iterator (`contextlib.aclosing`) when not consuming it to the end.
        """
        ...

    async def delete_prefix(self, prefix: str) -> int:
        """Delete every object whose key starts with `prefix`, and return how many were deleted."""
        ...

    async def size(self, key: str) -> int:
        """Return the size of the object under `key`, in bytes.

        Raises:
            ObjectNotFound: no object under `key`.
        """
        ...
