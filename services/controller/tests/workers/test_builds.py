"""The event consumers against a running controller: completed builds, failed deploys.

Events are published to the session's JetStream `EVENTS` stream as the builder and the
scheduler would; the test waits, with a deadline, until the controller's durable consumer has
acknowledged everything, then looks at the API and the outbox.
"""

import asyncio
import json
import time
import uuid

import httpx
import nats.aio.client
import nats.js.errors
import pytest

from deis_controller.workers import builds
from deis_shared import events, wire
from deis_shared.bus import publishing
from deis_shared.events import build as build_events, deploy as deploy_events

DEADLINE = 15.0


async def settled(nc: nats.aio.client.Client, durable: str) -> None:
    """Wait until the durable consumer has nothing pending or unacknowledged."""
    js = nc.jetstream()
    deadline = time.monotonic() + DEADLINE
    info = None
    while time.monotonic() < deadline:
        try:
            info = await js.consumer_info(events.STREAM, durable)
        except nats.js.errors.NotFoundError:
            pass  # the controller creates its consumer in a task that may not have run yet
        else:
            if info.num_pending == 0 and info.num_ack_pending == 0:
                return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{durable} did not settle: {info}")


async def releases_of(client, headers, app_id, *, count):
    """Poll the releases list until it holds `count` releases; the list."""
    deadline = time.monotonic() + DEADLINE
    while True:
        response = await client.get(f"/v2/apps/{app_id}/releases/", headers=headers)
        assert response.status_code == 200, response.text
        found = response.json()["results"]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.05)


def completed(app_id: str, *, build_id: uuid.UUID, user: str = "bob", sha: str = "abc1234"):
    return build_events.BuildCompleted(
        app=app_id,
        build_id=build_id,
        sha=sha,
        slug_key=f"slugs/{app_id}/{sha}.tar.gz",
        procfile={"web": "python app.py"},
        user=user,
    )


async def publish(nc: nats.aio.client.Client, subject: str, message) -> None:
    # A fresh Nats-Msg-Id each time: JetStream's de-duplication does not hide a redelivery.
    await publishing.publish(
        nc.jetstream(), subject=subject, data=message, msg_id=str(uuid.uuid4())
    )


@pytest.fixture
async def owner(register):
    await register("admin")
    return await register("bob")


@pytest.fixture
async def app_id(client: httpx.AsyncClient, auth, owner: str, unique: str) -> str:
    created = await client.post("/v2/apps/", json={"id": unique}, headers=auth(owner))
    assert created.status_code == 201
    return unique


async def test_a_completed_build_is_released_once_even_when_delivered_twice(
    client, auth, owner, app_id, nc
):
    event = completed(app_id, build_id=uuid.uuid4())
    subject = build_events.completed_subject(app_id)
    await publish(nc, subject, event)
    await publish(nc, subject, event.model_copy(update={"id": uuid.uuid4()}))
    assert len(await releases_of(client, auth(owner), app_id, count=2)) == 2
    await settled(nc, builds.BUILDS_DURABLE)
    found = await releases_of(client, auth(owner), app_id, count=2)
    assert [release["version"] for release in found] == [2, 1]
    assert found[0]["summary"] == "bob deployed abc1234"
    assert found[0]["build"] is not None


async def test_a_second_build_makes_a_second_release(client, auth, owner, app_id, nc):
    subject = build_events.completed_subject(app_id)
    await publish(nc, subject, completed(app_id, build_id=uuid.uuid4(), sha="abc1234"))
    await publish(nc, subject, completed(app_id, build_id=uuid.uuid4(), sha="def5678"))
    found = await releases_of(client, auth(owner), app_id, count=3)
    assert [release["version"] for release in found] == [3, 2, 1]


@pytest.fixture
async def refusals(nc: nats.aio.client.Client):
    """The `build.<app>.refused` events the controller publishes, as the builder sees them."""
    seen: asyncio.Queue[build_events.BuildRefused] = asyncio.Queue()

    async def keep(msg) -> None:
        seen.put_nowait(wire.decode(msg.data, build_events.BuildRefused))

    sub = await nc.subscribe(build_events.REFUSED_SUBJECTS, cb=keep)
    await nc.flush()
    yield seen
    await sub.unsubscribe()


async def refused(
    seen: asyncio.Queue[build_events.BuildRefused], count: int
) -> dict[uuid.UUID, build_events.BuildRefused]:
    """The next `count` refusals, by build id."""
    found = {}
    async with asyncio.timeout(DEADLINE):
        for _ in range(count):
            event = await seen.get()
            found[event.build_id] = event
    return found


async def test_builds_of_deleted_apps_or_unknown_users_are_refused_and_the_consumer_goes_on(
    client, auth, owner, app_id, nc, controller, refusals
):
    gone = f"{app_id}zz"
    created = await client.post("/v2/apps/", json={"id": gone}, headers=auth(owner))
    assert created.status_code == 201, created.text
    deleted = await client.delete(f"/v2/apps/{gone}/", headers=auth(owner))
    assert deleted.status_code == 204, deleted.text
    orphan = completed(gone, build_id=uuid.uuid4())
    await publish(nc, build_events.completed_subject(gone), orphan)
    stranger = uuid.uuid4()
    subject = build_events.completed_subject(app_id)
    await publish(nc, subject, completed(app_id, build_id=stranger, user="nobody"))
    await publish(nc, subject, completed(app_id, build_id=uuid.uuid4()))

    found = await releases_of(client, auth(owner), app_id, count=2)
    assert [release["version"] for release in found] == [2, 1]
    events = await refused(refusals, 2)
    assert set(events) == {orphan.build_id, stranger}
    assert events[orphan.build_id].app == gone
    assert events[orphan.build_id].sha == "abc1234"
    assert events[orphan.build_id].reason == (
        f"app {gone} was deleted during the push: nothing was released"
    )
    assert events[stranger].app == app_id
    assert events[stranger].reason == (
        "user nobody was deleted during the push: nothing was released"
    )
    await settled(nc, builds.BUILDS_DURABLE)
    # Claimed: a redelivery is not released nor refused twice.
    await publish(nc, subject, completed(app_id, build_id=stranger, user="nobody"))
    await settled(nc, builds.BUILDS_DURABLE)
    pool = controller.state.context.pool
    claimed = await pool.fetchval(
        "SELECT count(*) FROM processed_builds WHERE build_id = $1 AND release_uuid IS NULL",
        stranger,
    )
    assert claimed == 1
    announced = await pool.fetchval(
        "SELECT count(*) FROM outbox WHERE subject = $1", build_events.refused_subject(app_id)
    )
    assert announced == 1


async def test_a_refused_build_is_acknowledged_announced_and_logged(
    client, auth, owner, app_id, nc, controller, refusals
):
    bad = completed(app_id, build_id=uuid.uuid4()).model_copy(update={"procfile": {"web": ""}})
    await publish(nc, build_events.completed_subject(app_id), bad)
    event = (await refused(refusals, 1))[bad.build_id]
    assert event.reason.startswith("the controller refused to release the build: procfile: ")
    await settled(nc, builds.BUILDS_DURABLE)
    pool = controller.state.context.pool
    row = await pool.fetchrow(
        "SELECT release_uuid FROM processed_builds WHERE build_id = $1", bad.build_id
    )
    assert row is not None and row["release_uuid"] is None
    lines = await pool.fetch(
        "SELECT payload FROM outbox WHERE subject = $1 ORDER BY seq", f"deis.logs.{app_id}"
    )
    assert any(b"was not released" in line["payload"] for line in lines)


async def add_release(controller, app_id: str, *, version: int) -> None:
    """Release `version` with a build, written directly."""
    async with controller.state.context.pool.acquire() as conn, conn.transaction():
        app = await conn.fetchrow("SELECT uuid, owner_id FROM apps WHERE id = $1", app_id)
        build = uuid.uuid4()
        await conn.execute(
            """
            INSERT INTO builds (uuid, app_uuid, owner_id, image, sha, slug_key)
            VALUES ($1, $2, $3, 'slugs/x.tar.gz', 'abc1234', 'slugs/x.tar.gz')
            """,
            build,
            app["uuid"],
            app["owner_id"],
        )
        await conn.execute(
            """
            INSERT INTO releases (uuid, app_uuid, owner_id, version, config_uuid, build_uuid)
            SELECT $1, app_uuid, owner_id, $4, config_uuid, $2
            FROM releases WHERE app_uuid = $3 AND version = 1
            """,
            uuid.uuid4(),
            build,
            app["uuid"],
            version,
        )


async def test_a_failed_deploy_marks_the_release_failed_and_points_desired_back(
    app_id, nc, controller
):
    await add_release(controller, app_id, version=2)
    pool = controller.state.context.pool
    event = deploy_events.DeployFailed(app=app_id, version=2, reason="web.1 exited with code 1")
    await publish(nc, deploy_events.failed_subject(app_id), event)
    await publish(nc, deploy_events.failed_subject(app_id), event)  # redelivered: no second line
    await settled(nc, builds.DEPLOYS_DURABLE)
    failed = await pool.fetchval(
        "SELECT failed FROM releases r JOIN apps a ON a.uuid = r.app_uuid"
        " WHERE a.id = $1 AND r.version = 2",
        app_id,
    )
    assert failed is True
    desired = await pool.fetchval(
        "SELECT payload FROM outbox WHERE bucket = 'desired' AND key = $1"
        " ORDER BY seq DESC LIMIT 1",
        app_id,
    )
    assert json.loads(desired)["release"]["version"] == 1
    lines = await pool.fetch(
        "SELECT payload FROM outbox WHERE subject = $1 ORDER BY seq", f"deis.logs.{app_id}"
    )
    failures = [
        line
        for line in lines
        if b"v2 failed to deploy: web.1 exited with code 1" in line["payload"]
    ]
    assert len(failures) == 1


async def test_a_failed_deploy_of_an_unknown_release_is_dropped(app_id, nc, controller):
    event = deploy_events.DeployFailed(app=app_id, version=7, reason="boom")
    await publish(nc, deploy_events.failed_subject(app_id), event)
    await settled(nc, builds.DEPLOYS_DURABLE)
    count = await controller.state.context.pool.fetchval(
        "SELECT count(*) FROM releases WHERE failed"
    )
    assert count == 0
