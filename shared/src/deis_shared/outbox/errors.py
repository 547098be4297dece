"""Errors of the outbox.

    DeisError
    └── PermanentError
        └── OutboxError                 misuse of the outbox: a programming error
            ├── NotInTransaction        enqueue outside a transaction would not be atomic
            └── TooLarge                a message larger than the bus carries: never enqueued

Publishing failures never surface as exceptions: the relay records them on the row
(`attempts`, `rejections`, `last_error`, `next_attempt_at`) and retries with backoff, or sets
a row that cannot be published aside as dead (`dead_at`) and reports it (`outbox.dead`).
"""

from deis_shared.errors import PermanentError


class OutboxError(PermanentError):
    """The outbox was used in a way that cannot work."""


class NotInTransaction(OutboxError):
    """An enqueue ran outside a transaction, so it could not commit with the change."""


class TooLarge(OutboxError):
    """A message larger than the bus carries.

    It could never be published, so it is refused before the transaction that would announce
    it commits (compare `dead.MessageTooLarge`, found by the relay at publish time).
    """

    def __init__(self, *, size: int, limit: int) -> None:
        super().__init__(f"a message of {size} bytes is larger than the bus carries ({limit})")
        self.size = size
        """The encoded message's size in bytes."""
        self.limit = limit
        """The most the bus carries."""
