"""The errors of the NATS boundary, and the one place nats-py exceptions are translated.

    DeisError
    └── BusError
        ├── BusUnavailable (TransientError)   cannot connect, disconnected, timed out, 503
        ├── RpcTimeout (TransientError)       no reply before the deadline
        ├── NoResponders (TransientError)     nobody subscribes to the RPC subject (yet)
        ├── RpcUnavailable (TransientError)   the responder could not serve now: `.message`
        ├── ServerRejected (PermanentError)   JetStream refused the call (bad config, wrong stream)
        ├── RpcRemoteError (PermanentError)   the responder answered with an error: `.code`
        └── InvalidMessage (PermanentError)   a payload that does not validate

Code outside `deis_shared.bus` never sees a nats-py exception: every module of this package
maps them with `translate()` and chains the original with `from`.
"""

import asyncio

import nats.errors
import nats.js.errors

from deis_shared import errors


class BusError(errors.DeisError):
    """Base class of every error raised by `deis_shared.bus`."""


class BusUnavailable(BusError, errors.TransientError):
    """The NATS server cannot be reached or did not answer in time: retry later."""


class BusRefused(BusError, errors.PermanentError):
    """The NATS server refused our credentials: trying again changes nothing."""


class RpcTimeout(BusError, errors.TransientError):
    """An RPC got no reply before its deadline."""


class NoResponders(BusError, errors.TransientError):
    """Nobody listens on the RPC subject: the responder may be starting or restarting."""


class RpcUnavailable(BusError, errors.TransientError):
    """The responder met a transient failure (its database away, say): retry later."""


class ServerRejected(BusError, errors.PermanentError):
    """The JetStream API refused a request; the same request will be refused again."""


class RpcRemoteError(BusError, errors.PermanentError):
    """The responder received the request and answered with an error envelope."""

    def __init__(self, *, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        """A short machine-readable reason, e.g. `invalid`, `not_found`, `internal`."""
        self.message = message
        """The responder's one-line explanation."""


class InvalidMessage(BusError, errors.PermanentError):
    """A payload that does not parse or validate against its model."""


def translate(exc: BaseException, *, context: str) -> BusError:
    """Map a nats-py (or asyncio timeout) exception to the bus error tree.

    Args:
        exc: The exception raised by nats-py.
        context: What was being done, for the message (e.g. "publish to deis.events.x").

    Returns:
        The matching `BusError`; the caller raises it `from exc`.
    """
    detail = f"{context}: {type(exc).__name__} {exc}".rstrip()
    if isinstance(exc, nats.js.errors.ServiceUnavailableError):
        return BusUnavailable(detail)
    if isinstance(exc, nats.js.errors.NoStreamResponseError):
        return BusUnavailable(f"{detail} (no stream answered: JetStream down or no stream)")
    if isinstance(exc, nats.js.errors.APIError):
        if exc.code is not None and exc.code >= 500:
            return BusUnavailable(f"{context}: {exc.description} ({exc.code})")
        return ServerRejected(f"{context}: {exc.description} ({exc.code}/{exc.err_code})")
    if isinstance(exc, nats.errors.NoRespondersError):
        return NoResponders(detail)
    if isinstance(exc, nats.errors.TimeoutError | asyncio.TimeoutError):
        return BusUnavailable(f"{context}: timed out")
    if isinstance(exc, nats.errors.Error | OSError):
        return BusUnavailable(detail)
    return BusError(detail)
