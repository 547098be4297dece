"""The scheduler's errors, and the one rule that says what a failed converge does next.

    DeisError
    ├── PermanentError     the same desired state would fail the same way: do not retry it
    │   ├── RolloutFailed  a release's processes crashed or never became healthy
    │   ├── CannotRun      a process this host cannot run as specified: a limit it cannot
    │   │                  parse, a command the OS refuses (too long, a NUL byte), a user
    │   │                  that does not exist
    │   └── (local.slugs.SlugError: a slug that cannot be had or unpacked)
    └── TransientError     (from adapters: NATS, the object store away) retried with backoff

A converge that fails stops whatever it started first, whichever the error (`AppRuntime`).
Then, during a release's rollout, a `PermanentError` ends that release: it is marked failed,
reported once as `deploy.failed`, and not tried again (the next release is). Any other error
(a `TransientError`, or one nobody classified, which may be a passing condition too) is retried
by the reconciler after `retry_delay`.
"""

from deis_shared.errors import PermanentError, TransientError

__all__ = [
    "RETRY_MAX",
    "CannotRun",
    "PermanentError",
    "RolloutFailed",
    "TransientError",
    "retry_delay",
]

RETRY_MAX = 60.0
"""Longest wait, in seconds, before a failed converge is tried again."""


class RolloutFailed(PermanentError):
    """The new release was not rolled out; the message is one line for the pushing user."""

    def __init__(self, message: str, *, last_lines: list[str] | None = None) -> None:
        super().__init__(message)
        self.last_lines = last_lines or []


class CannotRun(PermanentError):
    """A process cannot be started as the desired state says; the message says why."""


def retry_delay(error: Exception, *, failures: int) -> float | None:
    """Seconds to wait before converging again after `error`; `None`: do not retry.

    Args:
        error: what ended the converge.
        failures: how many converges in a row failed, this one included (1 or more).

    Returns:
        `None` for a `PermanentError`; the error's own `retry_after` when it gives one;
        otherwise a backoff doubling from 1 s up to `RETRY_MAX`.
    """
    if isinstance(error, PermanentError):
        return None
    if isinstance(error, TransientError) and error.retry_after is not None:
        return min(RETRY_MAX, error.retry_after)
    # The exponent is capped: 2.0 ** 1024 would overflow after a long enough outage.
    return min(RETRY_MAX, 2.0 ** min(failures - 1, 16))
