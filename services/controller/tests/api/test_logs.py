"""`deis logs [-f]` over HTTP (docs/api.md §2.2): the tail from the logger, the follow from `LOGS`.

The logger runs for real, as a process on the test session's nats-server, for the tests that
need it; the lines are published to `deis.logs.<app>` as the scheduler publishes them. The
controller writes lines of its own into the same log (`deis[controller]`), which the tests
leave aside.
"""

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from deis_shared import wire
from deis_shared.events import logs as log_events
from deis_testing import NatsServer, ServiceProcess, free_port


@pytest.fixture
async def owner(register):
    await register("admin")
    return await register("bob")


@pytest.fixture
def logger_process(nats_server: NatsServer, tmp_path: Path) -> Iterator[None]:
    """The logger, as a real process, for one test."""
    port = free_port()
    env = {
        **os.environ,
        "DEIS_NATS_URL": nats_server.url,
        "DEIS_DATA_DIR": str(tmp_path / "logger"),
        "DEIS_OBJECT_STORE_ROOT": str(tmp_path / "objects"),
        "DEIS_ARCHIVE": "false",
        "DEIS_HEALTH_PORT": str(port),
        "DEIS_SHUTDOWN_TIMEOUT": "5",
    }
    logger = ServiceProcess("deis_logger.main", env=env, port=port, log=tmp_path / "logger.log")
    logger.start()
    try:
        yield
    finally:
        logger.stop()


def line(app_id: str, message: str) -> log_events.LogLine:
    return log_events.LogLine(app=app_id, process="web.1", message=message)


async def publish(nc, lines: list[log_events.LogLine]) -> None:
    js = nc.jetstream()
    for each in lines:
        await js.publish(log_events.subject(each.app), wire.encode(each))


def apps_own(text: str) -> list[str]:
    return [each for each in text.splitlines() if "deis[controller]" not in each]


async def get_logs(client, auth, owner, path: str):
    """GET the logs; the logger's tail responder may reach the server a moment after start."""
    for _ in range(50):
        response = await client.get(path, headers=auth(owner))
        if response.status_code != 500:
            return response
        await asyncio.sleep(0.1)
    return response


async def test_logs_answer_the_tail_as_text(client, auth, owner, app_id, nc, logger_process):
    lines = [line(app_id, "first"), line(app_id, "second")]
    await publish(nc, lines)
    response = await get_logs(client, auth, owner, f"/v2/apps/{app_id}/logs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text.endswith("\n")
    assert apps_own(response.text) == [each.format() for each in lines]


@pytest.mark.parametrize(("given", "lines"), [("5", 5), ("0", 100), ("x", 100), ("99999", 130)])
async def test_log_lines_is_passed_on(
    client, auth, owner, app_id, nc, logger_process, given, lines
):
    await publish(nc, [line(app_id, f"line {n}") for n in range(130)])
    path = f"/v2/apps/{app_id}/logs/?log_lines={given}"
    response = await get_logs(client, auth, owner, path)
    assert response.status_code == 200
    shown = response.text.splitlines()
    if lines < 130:
        assert len(shown) == lines
    else:  # capped at 10,000, and there are fewer
        assert apps_own(response.text)[0].endswith(": line 0")


async def test_no_logs_is_204(client, auth, owner, app_id, logger_process, nc):
    js = nc.jetstream()
    subject = log_events.subject(app_id)

    async def stored() -> int:
        info = await js.stream_info(log_events.STREAM, subjects_filter=subject)
        return int((info.state.subjects or {}).get(subject, 0))

    for _ in range(100):  # the controller's own line about the app's creation, then none
        if await stored():
            break
        await asyncio.sleep(0.05)
    await js.purge_stream(log_events.STREAM, subject=subject)
    assert await stored() == 0
    response = await get_logs(client, auth, owner, f"/v2/apps/{app_id}/logs")
    assert (response.status_code, response.content) == (204, b"")


async def test_logger_unreachable_is_a_plain_text_500(client, auth, owner, app_id):
    response = await client.get(f"/v2/apps/{app_id}/logs", headers=auth(owner))
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text == f"Error accessing logs for {app_id}"


async def test_logs_permissions(client, auth, register, owner, app_id):
    stranger = await register("eve")
    path = f"/v2/apps/{app_id}/logs"
    assert (await client.get(path)).status_code == 401
    assert (await client.get(path, headers=auth(stranger))).status_code == 403
    missing = await client.get(f"/v2/apps/{app_id}x/logs", headers=auth(owner))
    assert (missing.status_code, missing.json()) == (404, "No App matches the given query.")


@pytest.mark.parametrize("controller_overrides", [{"follow_max_seconds": 1.5}])
async def test_follow_streams_the_last_lines_then_new_ones_once(client, auth, owner, app_id, nc):
    subject = log_events.subject(app_id)
    old = [line(app_id, f"old line {n}") for n in range(5)]
    later = line(app_id, "written while following")
    for each in old:
        await nc.publish(subject, wire.encode(each))
    await nc.flush()

    async def publish_later() -> None:
        await asyncio.sleep(0.5)
        await nc.publish(subject, wire.encode(later))
        await nc.flush()

    publishing = asyncio.create_task(publish_later())
    response = await client.get(f"/v2/apps/{app_id}/logs?follow=true", headers=auth(owner))
    await publishing
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    # The follow reads the stream itself: no logger needed, and no line twice.
    shown = [text for text in response.text.splitlines() if "deis[controller]" not in text]
    assert shown == [each.format() for each in [*old, later]]


@pytest.mark.parametrize("controller_overrides", [{"follow_max_seconds": 1.0}])
async def test_follow_with_the_last_lines_only(client, auth, owner, app_id, nc):
    subject = log_events.subject(app_id)
    for n in range(150):
        await nc.publish(subject, wire.encode(line(app_id, f"line {n}")))
    await nc.flush()
    response = await client.get(
        f"/v2/apps/{app_id}/logs?follow=true&log_lines=3", headers=auth(owner)
    )
    assert response.status_code == 200
    every = response.text.splitlines()
    assert len(every) == 3  # the last 3 of the app's log; the controller's own lines count too
    shown = [text.rsplit(": ", 1)[1] for text in every if "deis[controller]" not in text]
    assert shown == ["line 147", "line 148", "line 149"][-len(shown) :]
    assert len(shown) >= 2
