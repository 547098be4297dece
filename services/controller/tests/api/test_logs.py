"""`deis logs [-f]` over HTTP (API.md §2.2): the controller asks the logger over NATS.

The logger does not exist yet, so these tests start a tiny `Responder` on
`deis.rpc.logger.tail` as its test double: it plays the logger's side of the RPC contract
only, and is allowed here for that reason alone.
"""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from deis_shared import wire
from deis_shared.bus import requesting
from deis_shared.events import logs as log_events
from deis_shared.rpc import logger as logger_rpc

TailHandler = Callable[[logger_rpc.TailRequest], Awaitable[list[str]]]


@pytest.fixture
async def owner(register):
    await register("admin")
    return await register("bob")


@pytest.fixture
async def logger_double(nc) -> AsyncIterator[Callable[[TailHandler], Awaitable[None]]]:
    """Start a stand-in for the logger's tail RPC that answers with `handler`'s lines."""
    responders: list[requesting.Responder[Any, Any]] = []

    async def start(handler: TailHandler) -> None:
        async def handle(request: logger_rpc.TailRequest) -> logger_rpc.TailReply:
            return logger_rpc.TailReply(lines=await handler(request))

        responder = requesting.Responder(
            nc=nc,
            subject=logger_rpc.TAIL_SUBJECT,
            queue="logger-double",
            request_type=logger_rpc.TailRequest,
            handler=handle,
        )
        await responder.start()
        responders.append(responder)

    try:
        yield start
    finally:
        for responder in responders:
            await responder.close()


def line(app_id: str, message: str) -> log_events.LogLine:
    return log_events.LogLine(app=app_id, process="web.1", message=message)


async def test_logs_answer_the_tail_as_text(client, auth, owner, app_id, logger_double):
    asked: list[logger_rpc.TailRequest] = []

    async def tail(request: logger_rpc.TailRequest) -> list[str]:
        asked.append(request)
        return ["first", "second"]

    await logger_double(tail)
    response = await client.get(f"/v2/apps/{app_id}/logs", headers=auth(owner))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text == "first\nsecond\n"
    assert (asked[0].app, asked[0].lines) == (app_id, 100)


@pytest.mark.parametrize(("given", "lines"), [("5", 5), ("0", 100), ("x", 100), ("99999", 10000)])
async def test_log_lines_is_passed_on(client, auth, owner, app_id, logger_double, given, lines):
    asked: list[int] = []

    async def tail(request: logger_rpc.TailRequest) -> list[str]:
        asked.append(request.lines)
        return ["one"]

    await logger_double(tail)
    response = await client.get(f"/v2/apps/{app_id}/logs/?log_lines={given}", headers=auth(owner))
    assert response.status_code == 200
    assert asked == [lines]


async def test_no_logs_is_204(client, auth, owner, app_id, logger_double):
    async def tail(request: logger_rpc.TailRequest) -> list[str]:
        return []

    await logger_double(tail)
    response = await client.get(f"/v2/apps/{app_id}/logs", headers=auth(owner))
    assert (response.status_code, response.content) == (204, b"")


async def test_logger_unreachable_is_a_plain_text_500(client, auth, owner, app_id):
    response = await client.get(f"/v2/apps/{app_id}/logs", headers=auth(owner))
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text == f"Error accessing logs for {app_id}"


async def test_logs_permissions(client, auth, register, owner, app_id, logger_double):
    async def tail(request: logger_rpc.TailRequest) -> list[str]:
        return ["x"]

    await logger_double(tail)
    stranger = await register("eve")
    path = f"/v2/apps/{app_id}/logs"
    assert (await client.get(path)).status_code == 401
    assert (await client.get(path, headers=auth(stranger))).status_code == 403
    missing = await client.get(f"/v2/apps/{app_id}x/logs", headers=auth(owner))
    assert (missing.status_code, missing.json()) == (404, "No App matches the given query.")


@pytest.mark.parametrize("controller_overrides", [{"follow_max_seconds": 1.5}])
async def test_follow_streams_new_lines_once_after_the_tail(
    client, auth, owner, app_id, logger_double, nc
):
    old = line(app_id, "old line")
    racing = line(app_id, "written while the tail was read")
    later = line(app_id, "written after the tail")
    published: list[asyncio.Task[None]] = []

    async def publish_later() -> None:
        await asyncio.sleep(0.3)
        await nc.publish(log_events.subject(app_id), wire.encode(later))
        await nc.flush()

    async def tail(request: logger_rpc.TailRequest) -> list[str]:
        # The follower subscribed before asking: a line written now reaches it twice (on the
        # subscription and in the tail) and must be shown once.
        await nc.publish(log_events.subject(app_id), wire.encode(racing))
        await nc.flush()
        published.append(asyncio.create_task(publish_later()))
        return [old.format(), racing.format()]

    await logger_double(tail)
    response = await client.get(f"/v2/apps/{app_id}/logs?follow=true", headers=auth(owner))
    await asyncio.gather(*published)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    shown = [text for text in response.text.splitlines() if "deis[controller]" not in text]
    assert shown == [old.format(), racing.format(), later.format()]


async def test_follow_with_the_logger_unreachable_is_a_plain_text_500(client, auth, owner, app_id):
    response = await client.get(f"/v2/apps/{app_id}/logs?follow=true", headers=auth(owner))
    assert (response.status_code, response.text) == (500, f"Error accessing logs for {app_id}")
