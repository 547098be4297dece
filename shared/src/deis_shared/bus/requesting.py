"""Request/reply RPC over core NATS with deadlines and typed errors.

A request carries its absolute deadline (`Deis-Deadline`, unix seconds) so a responder can
skip work whose caller has already given up. A reply is either the reply model's JSON, or,
with the header `Deis-Error: 1`, an envelope `{"error": {"code": ..., "message": ...}}`:

    invalid    the request did not validate against the responder's model
    internal   the handler crashed (details stay in the responder's log)
    expired    the deadline passed before the handler started
    unavailable  the handler raised a TransientError; the caller gets RpcUnavailable (retry)
    <code>     a PermanentError raised by the handler, its `.code` attribute or "error"

Responders subscribe in a queue group so that replicas share the load.

    Responder: NEW --start()--> SERVING --close()--> CLOSED
"""

import asyncio
import enum
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

import nats.aio.client
import nats.errors
import pydantic
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from deis_shared import errors as deis_errors
from deis_shared.bus import errors

logger = logging.getLogger(__name__)

DEADLINE_HEADER = "Deis-Deadline"
ERROR_HEADER = "Deis-Error"
UNAVAILABLE = "unavailable"
"""Error code of a transient failure in the responder; callers raise `RpcUnavailable`."""

Req = TypeVar("Req", bound=pydantic.BaseModel)
Rep = TypeVar("Rep", bound=pydantic.BaseModel)


class ErrorBody(pydantic.BaseModel):
    """What went wrong, as the responder tells it."""

    code: str
    message: str


class ErrorEnvelope(pydantic.BaseModel):
    """The body of an error reply."""

    error: ErrorBody


async def request(
    nc: nats.aio.client.Client,
    *,
    subject: str,
    payload: pydantic.BaseModel,
    reply_type: type[Rep],
    timeout: float,  # noqa: ASYNC109 -- also sent to the responder as the deadline
) -> Rep:
    """Send `payload` to `subject` and return the validated reply.

    Args:
        nc: The NATS client.
        subject: The RPC subject, e.g. `deis.rpc.controller.key`.
        payload: The request model.
        reply_type: The model the reply must validate against.
        timeout: Seconds until the caller gives up (sent as an absolute deadline).

    Returns:
        The reply.

    Raises:
        RpcTimeout: No reply in time.
        NoResponders: Nobody listens on `subject`.
        RpcRemoteError: The responder answered with an error.
        InvalidMessage: The reply does not validate against `reply_type`.
        BusUnavailable: The connection is closed or broken.
    """
    headers = {DEADLINE_HEADER: f"{time.time() + timeout:.6f}"}
    body = payload.model_dump_json(by_alias=True).encode()
    try:
        msg = await nc.request(subject, body, timeout=timeout, headers=headers)
    except nats.errors.NoRespondersError as exc:
        raise errors.NoResponders(f"no responders on {subject}") from exc
    except (nats.errors.TimeoutError, TimeoutError) as exc:
        raise errors.RpcTimeout(f"no reply on {subject} within {timeout}s") from exc
    except (nats.errors.Error, OSError) as exc:
        raise errors.translate(exc, context=f"request on {subject}") from exc
    if (msg.headers or {}).get(ERROR_HEADER):
        try:
            envelope = ErrorEnvelope.model_validate_json(msg.data)
        except pydantic.ValidationError as exc:
            raise errors.InvalidMessage(f"malformed error reply on {subject}") from exc
        if envelope.error.code == UNAVAILABLE:
            raise errors.RpcUnavailable(f"{subject}: {envelope.error.message}")
        raise errors.RpcRemoteError(code=envelope.error.code, message=envelope.error.message)
    try:
        return reply_type.model_validate_json(msg.data)
    except pydantic.ValidationError as exc:
        raise errors.InvalidMessage(
            f"reply on {subject} is not a valid {reply_type.__name__}: {exc.error_count()} errors"
        ) from exc


class ResponderState(enum.Enum):
    """Where a `Responder` is in its life."""

    NEW = "new"
    SERVING = "serving"
    CLOSED = "closed"


class Responder(Generic[Req, Rep]):
    """Answer requests on one subject with `handler`, in a queue group."""

    def __init__(
        self,
        *,
        nc: nats.aio.client.Client,
        subject: str,
        queue: str,
        request_type: type[Req],
        handler: Callable[[Req], Awaitable[Rep]],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._nc = nc
        self._subject = subject
        self._queue = queue
        self._request_type = request_type
        self._handler = handler
        self._clock = clock
        self._sub: Subscription | None = None
        self._state = ResponderState.NEW

    @property
    def state(self) -> ResponderState:
        """The lifecycle state."""
        return self._state

    async def start(self) -> None:
        """Subscribe; requests are answered from then on.

        Raises:
            BusUnavailable: The subscription could not be made.
        """
        if self._state is not ResponderState.NEW:
            raise errors.BusError(f"responder on {self._subject} is {self._state.value}")
        try:
            self._sub = await self._nc.subscribe(self._subject, queue=self._queue, cb=self._serve)
            await self._nc.flush()
        except (nats.errors.Error, OSError, TimeoutError) as exc:
            raise errors.translate(exc, context=f"serve {self._subject}") from exc
        self._state = ResponderState.SERVING

    async def close(self) -> None:
        """Stop answering; requests in progress finish. Idempotent; safe before `start()`."""
        if self._state is ResponderState.CLOSED:
            return
        self._state = ResponderState.CLOSED
        sub, self._sub = self._sub, None
        if sub is not None and not self._nc.is_closed:
            try:
                await sub.drain()  # type: ignore[no-untyped-call]  # nats-py leaves it untyped
            except nats.errors.Error as exc:
                logger.debug("draining responder on %s failed: %r", self._subject, exc)

    async def _serve(self, msg: Msg) -> None:
        if not msg.reply:
            return  # a plain publish: nobody to answer
        data, failed = await self._answer(msg)
        headers = {ERROR_HEADER: "1"} if failed else None
        try:
            await self._nc.publish(msg.reply, data, headers=headers)
        except nats.errors.Error as exc:
            logger.warning("could not reply on %s: %r", self._subject, exc)

    async def _answer(self, msg: Msg) -> tuple[bytes, bool]:
        deadline = (msg.headers or {}).get(DEADLINE_HEADER)
        if deadline is not None and _expired(deadline, now=self._clock()):
            return _error(code="expired", message="the caller's deadline has passed"), True
        try:
            req = self._request_type.model_validate_json(msg.data)
        except pydantic.ValidationError as exc:
            return _error(code="invalid", message=_summary(exc)), True
        try:
            reply = await self._handler(req)
        except deis_errors.TransientError as exc:
            return _error(code=UNAVAILABLE, message=str(exc)), True
        except deis_errors.PermanentError as exc:
            code = getattr(exc, "code", None)
            return _error(code=code if isinstance(code, str) else "error", message=str(exc)), True
        except asyncio.CancelledError:
            raise
        except Exception:  # answer "internal" rather than leave the caller hanging
            logger.exception("handler for %s crashed", self._subject)
            return _error(code="internal", message="internal error"), True
        return reply.model_dump_json(by_alias=True).encode(), False


def _expired(deadline: str, *, now: float) -> bool:
    try:
        return float(deadline) < now
    except ValueError:
        return False


def _summary(exc: pydantic.ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "body"
    return f"{exc.error_count()} validation error(s); {where}: {first['msg']}"


def _error(*, code: str, message: str) -> bytes:
    return json.dumps({"error": {"code": code, "message": message}}).encode()
