"""Errors of the outbox.

    DeisError
    └── PermanentError
        └── OutboxError                 misuse of the outbox: a programming error
            └── NotInTransaction        enqueue outside a transaction would not be atomic

Publishing failures never surface as exceptions: the relay records them on the row
(`attempts`, `rejections`, `last_error`, `next_attempt_at`) and retries with backoff, or sets
a row that cannot be published aside as dead (`dead_at`) and reports it (`outbox.dead`).
"""

from deis_shared.errors import PermanentError


class OutboxError(PermanentError):
    """The outbox was used in a way that cannot work."""


class NotInTransaction(OutboxError):
    """An enqueue ran outside a transaction, so it could not commit with the change."""
