"""The root of every error `deis_shared` raises, and the retry policy each one encodes.

    DeisError
    ├── TransientError      retry with backoff (optionally after `retry_after` seconds)
    └── PermanentError      record and stop: retrying cannot help

Each adapter (bus, db, objectstore) derives its own small tree from these two and maps the
third-party exceptions it sees at its boundary, chaining them with `from`. Consumers and
reconcilers only need to ask which of the two an error is.
"""


class DeisError(Exception):
    """Base class of every error raised on purpose by Deis code."""


class TransientError(DeisError):
    """A failure that may pass: a server away, a timeout, a lock held by someone else."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        """Seconds to wait before the next attempt, when the failure says so."""


class PermanentError(DeisError):
    """A failure that the same input will always meet: bad data, a refused request."""
