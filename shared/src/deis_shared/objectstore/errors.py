"""Errors of the object store, and the retry policy each one encodes.

    DeisError
    └── ObjectStoreError            any object-store failure not classified below
        ├── ObjectNotFound          (PermanentError) no object under that key
        ├── InvalidKey              (PermanentError) key or prefix refused by `keys`
        └── ObjectStoreUnavailable  (TransientError) connection refused, timeout, 5xx, throttling

Backends map what they meet (botocore/aiohttp exceptions, `OSError`) onto this tree at their
boundary and chain the original with `from`, so callers never import a backend's exceptions.
"""

from deis_shared import errors


class ObjectStoreError(errors.DeisError):
    """Base class of every error the object store raises."""


class ObjectNotFound(ObjectStoreError, errors.PermanentError):
    """No object is stored under the key asked for."""

    def __init__(self, key: str) -> None:
        super().__init__(f"no object under key {key!r}")
        self.key = key
        """The key that was asked for."""


class InvalidKey(ObjectStoreError, errors.PermanentError):
    """A key or prefix that `keys.validate_key`/`keys.validate_prefix` refuses."""


class ObjectStoreUnavailable(ObjectStoreError, errors.TransientError):
    """The store cannot be reached or answered with a server-side failure: retry later."""
