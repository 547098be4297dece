"""A scale and a pods restart wait for the scheduler, as config changes do (app.waiting).

The test plays the scheduler: it writes the app's processes to KV `procs` as the change goes
on, and the logger, answering the tail of the app's log. A scale answers once its counts run
(a scale-down: once the extra processes are gone), 400 with the exit code and last lines of a
process of it that crashes (the counts go back), 503 at the deadline; a change meanwhile gets
409. A restart answers with the replacements once they run.
"""

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import nats
import pytest
from fastapi import FastAPI
from nats.js.kv import KeyValue

from deis_shared import wire
from deis_shared.kv import procs as procs_kv
from deis_shared.rpc import logger as logger_rpc
from deis_testing import NatsServer

WAIT = 2.0
PROCFILE = {"web": "python app.py", "worker": "python worker.py"}
STARTED = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


@pytest.fixture
def controller_overrides():
    return {"rollout_wait": WAIT, "route_wait": 0.1}


@pytest.fixture
async def procs(nats_server: NatsServer, controller: FastAPI) -> AsyncIterator[KeyValue]:
    del controller
    nc = await nats.connect(nats_server.url)
    try:
        yield await nc.jetstream().key_value(procs_kv.BUCKET)
    finally:
        await nc.close()


@pytest.fixture
async def built(controller: FastAPI, app_id: str, procs: KeyValue) -> str:
    """The app at v2, a build with web and worker, `web=1` running."""
    async with controller.state.context.pool.acquire() as conn, conn.transaction():
        app_uuid, owner_id = await conn.fetchrow(
            "SELECT uuid, owner_id FROM apps WHERE id = $1", app_id
        )
        build_uuid = uuid.uuid4()
        await conn.execute(
            "INSERT INTO builds (uuid, app_uuid, owner_id, image, sha, procfile, slug_key)"
            " VALUES ($1, $2, $3, 'example/app', 'abc1234', $4, 'slugs/app.tgz')",
            build_uuid,
            app_uuid,
            owner_id,
            PROCFILE,
        )
        await conn.execute(
            "INSERT INTO releases (uuid, app_uuid, owner_id, version, config_uuid, build_uuid)"
            " SELECT $2, $1, $3, 2, config_uuid, $4 FROM releases"
            " WHERE app_uuid = $1 AND version = 1",
            app_uuid,
            uuid.uuid4(),
            owner_id,
            build_uuid,
        )
        await conn.execute("UPDATE apps SET structure = $2 WHERE uuid = $1", app_uuid, {"web": 1})
    await write(procs, app_id, [proc(app_id, "web", 1)])
    return app_id


def proc(
    app: str,
    kind: str,
    index: int,
    *,
    state: str = "up",
    started: datetime = STARTED,
    restarts: int = 0,
    exit_code: int | None = None,
    name: str | None = None,
) -> procs_kv.Process:
    return procs_kv.Process(
        name=name or f"{app}-{kind}-v2-{index}",
        type=kind,
        index=index,
        release=2,
        state=procs_kv.ProcessState(state),
        started=started,
        restarts=restarts,
        exit_code=exit_code,
    )


async def write(bucket: KeyValue, app: str, processes: list[procs_kv.Process]) -> None:
    await bucket.put(app, wire.encode(procs_kv.Procs(app=app, processes=processes)))


async def structure(client, headers, app_id) -> dict[str, int]:
    shown: dict[str, int] = (await client.get(f"/v2/apps/{app_id}/", headers=headers)).json()[
        "structure"
    ]
    return shown


async def test_a_scale_up_answers_once_the_new_processes_run(client, auth, owner, built, procs):
    app, headers = built, auth(owner)
    ran = asyncio.Event()

    async def scheduler() -> None:
        await asyncio.sleep(0.4)
        web = proc(app, "web", 1)
        await write(
            procs, app, [web, proc(app, "worker", 1), proc(app, "worker", 2, state="starting")]
        )
        await asyncio.sleep(0.4)
        await write(procs, app, [web, proc(app, "worker", 1), proc(app, "worker", 2)])
        ran.set()

    playing = asyncio.create_task(scheduler())
    began = time.monotonic()
    answer = await client.post(f"/v2/apps/{app}/scale/", json={"worker": 2}, headers=headers)
    assert answer.status_code == 204, answer.text
    assert ran.is_set()  # not before both workers were up
    assert time.monotonic() - began < WAIT
    await playing
    pods = (await client.get(f"/v2/apps/{app}/pods/worker/", headers=headers)).json()
    assert [pod["state"] for pod in pods["results"]] == ["up", "up"]


async def test_a_scale_down_answers_once_the_extra_processes_are_gone(
    client, auth, owner, built, procs
):
    app, headers = built, auth(owner)
    both = [proc(app, "web", 1), proc(app, "web", 2)]
    await write(procs, app, both)
    scaled = await client.post(f"/v2/apps/{app}/scale/", json={"web": 2}, headers=headers)
    assert scaled.status_code == 204, scaled.text
    gone = asyncio.Event()

    async def scheduler() -> None:
        await asyncio.sleep(0.3)
        await write(procs, app, [both[0], proc(app, "web", 2, state="terminating")])
        await asyncio.sleep(0.4)
        await write(procs, app, [both[0], proc(app, "web", 2, state="down")])
        gone.set()

    playing = asyncio.create_task(scheduler())
    answer = await client.post(f"/v2/apps/{app}/scale/", json={"web": 1}, headers=headers)
    assert answer.status_code == 204, answer.text
    assert gone.is_set()
    await playing


async def test_a_scale_whose_process_crashes_is_refused_and_scaled_back(
    client, auth, owner, built, procs, nc, desired
):
    app, headers = built, auth(owner)

    async def tail(msg) -> None:
        request = wire.decode(msg.data, logger_rpc.TailRequest)
        lines = [
            f"2024-05-01T12:00:00.000000Z {request.app}[worker.1]: starting",
            f"2024-05-01T12:00:00.100000Z {request.app}[web.1]: a line of another process",
            f"2024-05-01T12:00:00.200000Z {request.app}[worker.1]: no database: giving up",
        ]
        await msg.respond(wire.encode(logger_rpc.TailReply(lines=lines)))

    await nc.subscribe(logger_rpc.TAIL_SUBJECT, cb=tail)
    await nc.flush()

    async def scheduler() -> None:
        await asyncio.sleep(0.3)
        crashed = proc(app, "worker", 1, state="crashed", restarts=1, exit_code=3)
        await write(procs, app, [proc(app, "web", 1), crashed])

    playing = asyncio.create_task(scheduler())
    answer = await client.post(f"/v2/apps/{app}/scale/", json={"worker": 1}, headers=headers)
    await playing
    assert answer.status_code == 400, answer.text
    assert answer.json() == {
        "detail": "scaling worker=1 failed: worker.1 exited with code 3"
        "\n  starting\n  no database: giving up"
    }
    # As Deis scaled the pods back to the old structure: the scheduler stops the worker.
    assert await structure(client, headers, app) == {"web": 1}
    assert (await desired(app)).formation == {"web": 1}


async def test_a_scale_nothing_runs_answers_503_at_the_deadline(client, auth, owner, built):
    app, headers = built, auth(owner)
    began = time.monotonic()
    answer = await client.post(f"/v2/apps/{app}/scale/", json={"worker": 1}, headers=headers)
    assert answer.status_code == 503, answer.text
    assert WAIT - 0.1 < time.monotonic() - began < WAIT + 3
    assert answer.json() == {
        "detail": f"scaling worker=1 of {app} is still going on after 2 s; it goes on:"
        " see `deis ps`"
    }
    assert await structure(client, headers, app) == {"web": 1, "worker": 1}  # it goes on


async def test_a_change_while_a_scale_waits_is_refused_with_409(client, auth, owner, built):
    app, headers = built, auth(owner)
    first = asyncio.create_task(
        client.post(f"/v2/apps/{app}/scale/", json={"worker": 1}, headers=headers)
    )
    await asyncio.sleep(0.5)
    busy = {"detail": f"Deployment for {app} is already in progress"}
    again = await client.post(f"/v2/apps/{app}/scale/", json={"web": 3}, headers=headers)
    assert (again.status_code, again.json()) == (409, busy)
    config = await client.post(
        f"/v2/apps/{app}/config/", json={"values": {"A": "1"}}, headers=headers
    )
    assert (config.status_code, config.json()) == (409, busy)
    restart = await client.post(f"/v2/apps/{app}/pods/restart/", headers=headers)
    assert (restart.status_code, restart.json()) == (409, busy)
    assert (await first).status_code == 503
    assert await structure(client, headers, app) == {"web": 1, "worker": 1}


async def test_a_restart_answers_with_the_replacements_once_they_run(
    client, auth, owner, built, procs
):
    app, headers = built, auth(owner)
    web = [proc(app, "web", 1), proc(app, "web", 2)]
    await write(procs, app, web)
    later = STARTED + timedelta(hours=1)

    async def scheduler() -> None:  # one by one, under their names, as the local backend does
        await asyncio.sleep(0.3)
        await write(procs, app, [proc(app, "web", 1, started=later), web[1]])
        await asyncio.sleep(0.3)
        second = proc(app, "web", 2, started=later + timedelta(seconds=1), state="starting")
        await write(procs, app, [proc(app, "web", 1, started=later), second])
        await asyncio.sleep(0.3)
        second = proc(app, "web", 2, started=later + timedelta(seconds=1))
        await write(procs, app, [proc(app, "web", 1, started=later), second])

    playing = asyncio.create_task(scheduler())
    answer = await client.post(f"/v2/apps/{app}/pods/web/restart/", headers=headers)
    await playing
    assert answer.status_code == 200, answer.text
    assert [(pod["name"], pod["state"], pod["started"]) for pod in answer.json()] == [
        (f"{app}-web-v2-2", "up", "2024-05-01T13:00:01Z"),
        (f"{app}-web-v2-1", "up", "2024-05-01T13:00:00Z"),
    ]


async def test_a_pod_restart_answers_with_its_replacement_under_a_new_name(
    client, auth, owner, built, procs
):
    app, headers = built, auth(owner)
    old = proc(app, "web", 1, name=f"{app}-web-1269180282-1nyfz")
    await write(procs, app, [old])
    later = STARTED + timedelta(hours=1)

    async def scheduler() -> None:  # Kubernetes: the pod goes, its Deployment makes another
        await asyncio.sleep(0.3)
        new = proc(app, "web", 1, name=f"{app}-web-1269180282-a2b3c", started=later)
        await write(procs, app, [proc(app, "web", 1, name=old.name, state="terminating"), new])

    playing = asyncio.create_task(scheduler())
    answer = await client.post(
        f"/v2/apps/{app}/pods/web/web-1269180282-1nyfz/restart/", headers=headers
    )
    await playing
    assert answer.status_code == 200, answer.text
    assert [pod["name"] for pod in answer.json()] == [f"{app}-web-1269180282-a2b3c"]


async def test_a_restart_whose_replacement_crashes_is_refused(client, auth, owner, built, procs):
    app, headers = built, auth(owner)

    async def scheduler() -> None:
        await asyncio.sleep(0.3)
        crashed = proc(app, "web", 1, state="crashed", restarts=1, exit_code=1)
        await write(procs, app, [crashed])

    playing = asyncio.create_task(scheduler())
    answer = await client.post(f"/v2/apps/{app}/pods/restart/", headers=headers)
    await playing
    assert answer.status_code == 400, answer.text
    assert answer.json() == {"detail": "restarting every process failed: web.1 exited with code 1"}
