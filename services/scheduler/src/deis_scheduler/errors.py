"""The scheduler's errors.

DeisError
├── PermanentError
│   └── RolloutFailed     a release's processes crashed or never became healthy
└── TransientError        (from adapters: NATS, object store) retried with backoff
"""

from deis_shared.errors import PermanentError


class RolloutFailed(PermanentError):
    """The new release was not rolled out; the message is one line for the pushing user."""

    def __init__(self, message: str, *, last_lines: list[str] | None = None) -> None:
        super().__init__(message)
        self.last_lines = last_lines or []
