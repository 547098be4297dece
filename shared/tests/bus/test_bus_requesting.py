import asyncio
import time

import pydantic
import pytest
from nats.aio.msg import Msg

from deis_shared import errors as deis_errors
from deis_shared.bus import connection, errors, requesting


class Ask(pydantic.BaseModel):
    n: int


class Answer(pydantic.BaseModel):
    doubled: int


class NotFound(deis_errors.PermanentError):
    code = "not_found"


async def _double(req: Ask) -> Answer:
    if req.n < 0:
        raise NotFound(f"nothing at {req.n}")
    if req.n == 0:
        raise deis_errors.PermanentError("zero")
    if req.n == 7:
        raise deis_errors.TransientError("database away")
    if req.n == 13:
        raise RuntimeError("secret internals")
    return Answer(doubled=2 * req.n)


@pytest.fixture
async def responder(bus, unique):
    r = requesting.Responder(
        nc=bus.nc, subject=f"{unique}.rpc", queue="q", request_type=Ask, handler=_double
    )
    await r.start()
    try:
        yield f"{unique}.rpc"
    finally:
        await r.close()


async def _call(
    bus: connection.Bus,
    subject: str,
    n: int,
    reply_type: type[pydantic.BaseModel] = Answer,
    within: float = 2.0,
) -> pydantic.BaseModel:
    return await requesting.request(
        bus.nc, subject=subject, payload=Ask(n=n), reply_type=reply_type, timeout=within
    )


async def test_reply_is_validated(bus, responder):
    assert await _call(bus, responder, 21) == Answer(doubled=42)


async def test_permanent_error_code_from_exception(bus, responder):
    with pytest.raises(errors.RpcRemoteError) as info:
        await _call(bus, responder, -1)
    assert (info.value.code, info.value.message) == ("not_found", "nothing at -1")
    with pytest.raises(errors.RpcRemoteError) as info:
        await _call(bus, responder, 0)
    assert info.value.code == "error"


async def test_transient_failure_reaches_the_caller_as_transient(bus, responder):
    with pytest.raises(errors.RpcUnavailable, match="database away") as info:
        await _call(bus, responder, 7)
    assert isinstance(info.value, deis_errors.TransientError)


async def test_crash_answers_internal_without_details(bus, responder):
    with pytest.raises(errors.RpcRemoteError) as info:
        await _call(bus, responder, 13)
    assert info.value.code == "internal"
    assert "secret" not in info.value.message


async def test_invalid_request_answers_invalid(bus, responder):
    msg = await bus.nc.request(responder, b'{"n": "x"}', timeout=2)
    assert msg.headers[requesting.ERROR_HEADER] == "1"
    body = requesting.ErrorEnvelope.model_validate_json(msg.data)
    assert body.error.code == "invalid"
    assert "n" in body.error.message


async def test_reply_of_wrong_shape_is_invalid_message(bus, responder):
    class Other(pydantic.BaseModel):
        something: str

    with pytest.raises(errors.InvalidMessage):
        await _call(bus, responder, 2, reply_type=Other)


async def test_no_responders(bus, unique):
    with pytest.raises(errors.NoResponders):
        await _call(bus, f"{unique}.nobody", 1)


async def test_timeout_and_deadline_header(bus, unique):
    got: asyncio.Queue[Msg] = asyncio.Queue()

    async def silent(msg):
        got.put_nowait(msg)

    sub = await bus.nc.subscribe(f"{unique}.slow", cb=silent)
    try:
        before = time.time()
        with pytest.raises(errors.RpcTimeout):
            await _call(bus, f"{unique}.slow", 1, within=0.2)
        msg = await got.get()
        assert msg.headers is not None
        deadline = float(msg.headers[requesting.DEADLINE_HEADER])
        assert before + 0.1 < deadline < time.time() + 0.1
    finally:
        await sub.unsubscribe()


async def test_expired_request_is_not_handled(bus, unique):
    calls = 0

    async def handler(req: Ask) -> Answer:
        nonlocal calls
        calls += 1
        return Answer(doubled=0)

    r = requesting.Responder(
        nc=bus.nc,
        subject=f"{unique}.rpc",
        queue="q",
        request_type=Ask,
        handler=handler,
        clock=lambda: time.time() + 60,  # the responder's clock says the deadline has passed
    )
    await r.start()
    try:
        with pytest.raises(errors.RpcRemoteError) as info:
            await _call(bus, f"{unique}.rpc", 1)
        assert info.value.code == "expired"
        assert calls == 0
    finally:
        await r.close()


async def test_close_before_start_and_twice(bus, unique):
    r = requesting.Responder(
        nc=bus.nc, subject=f"{unique}.rpc", queue="q", request_type=Ask, handler=_double
    )
    await r.close()
    await r.close()
    assert r.state is requesting.ResponderState.CLOSED
    r = requesting.Responder(
        nc=bus.nc, subject=f"{unique}.rpc", queue="q", request_type=Ask, handler=_double
    )
    await r.start()
    await r.close()
    await r.close()
    with pytest.raises(errors.NoResponders):
        await _call(bus, f"{unique}.rpc", 1)
