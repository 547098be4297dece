"""Pods over HTTP: `deis ps` and `deis ps:restart` read the scheduler's `procs` KV value
(docs/api.md §2.6)."""

import dataclasses
import json
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import nats
import pytest
from fastapi import FastAPI
from nats.js.kv import KeyValue

from deis_shared import wire
from deis_shared.kv import procs as procs_kv
from deis_testing import NatsServer

STARTED = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


@pytest.fixture
def team_path() -> str:
    return "pods"


@pytest.fixture
async def procs(nats_server: NatsServer, controller: FastAPI) -> AsyncIterator[KeyValue]:
    """The `procs` bucket (the controller made it at start)."""
    del controller
    nc = await nats.connect(nats_server.url)
    try:
        yield await nc.jetstream().key_value(procs_kv.BUCKET)
    finally:
        await nc.close()


def process(
    app: str,
    kind: str,
    suffix: str,
    *,
    release: int = 1,
    state: str = "up",
    minutes: int = 0,
    started: bool = True,
) -> procs_kv.Process:
    return procs_kv.Process(
        name=f"{app}-{kind}-{suffix}",
        type=kind,
        index=1,
        release=release,
        state=procs_kv.ProcessState(state),
        started=STARTED + timedelta(minutes=minutes) if started else None,
        restarts=0,
    )


async def write(bucket: KeyValue, app: str, processes: list[procs_kv.Process]) -> None:
    await bucket.put(app, wire.encode(procs_kv.Procs(app=app, processes=processes)))


def names(body: list[dict[str, Any]]) -> list[str]:
    return [pod["name"] for pod in body]


async def test_an_app_without_processes_has_no_pods(client: httpx.AsyncClient, team):
    response = await client.get(team.url, headers=team.headers["alice"])
    assert response.status_code == 200
    assert response.json() == {"results": [], "count": 0}


async def test_pods_are_listed_newest_first(client: httpx.AsyncClient, team, procs: KeyValue):
    app = team.app
    await write(
        procs,
        app,
        [
            process(app, "web", "1234567890-aaaaa", minutes=1),
            process(app, "worker", "1234567890-bbbbb", minutes=5, state="starting"),
            process(app, "web", "1234567890-ccccc", minutes=3),
        ],
    )
    response = await client.get(team.url.rstrip("/"), headers=team.headers["bob"])
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"results", "count"}
    assert body["count"] == 3
    assert names(body["results"]) == [
        f"{app}-worker-1234567890-bbbbb",
        f"{app}-web-1234567890-ccccc",
        f"{app}-web-1234567890-aaaaa",
    ]
    assert body["results"][0] == {
        "name": f"{app}-worker-1234567890-bbbbb",
        "state": "starting",
        "type": "worker",
        "release": "v1",
        "started": "2024-05-01T12:05:00Z",
    }


async def test_hidden_processes(
    client: httpx.AsyncClient, team, procs: KeyValue, controller: FastAPI
):
    app = team.app
    async with controller.state.context.pool.acquire() as conn:
        # A failed v2: the latest non-failed release stays v1.
        await conn.execute(
            "INSERT INTO releases (uuid, app_uuid, owner_id, version, failed, config_uuid)"
            " SELECT $2, app_uuid, owner_id, 2, true, config_uuid FROM releases r"
            " WHERE r.app_uuid = (SELECT uuid FROM apps WHERE id = $1)",
            app,
            uuid.uuid4(),
        )
    await write(
        procs,
        app,
        [
            process(app, "web", "1111111111-aaaaa"),
            process(app, "web", "1111111111-bbbbb", release=2),
            process(app, "run", "abcde"),
            process(app, "web", "1111111111-ccccc", state="down"),
            process(app, "web", "1111111111-ddddd", state="crashed"),
            process(app, "web", "1111111111-eeeee", state="destroyed"),
            process(app, "web", "1111111111-fffff", state="terminating"),
            process(app, "web", "1111111111-ggggg", state="error"),
        ],
    )
    body = (await client.get(team.url, headers=team.headers["alice"])).json()
    assert sorted(names(body["results"])) == [
        f"{app}-web-1111111111-aaaaa",
        f"{app}-web-1111111111-fffff",
        f"{app}-web-1111111111-ggggg",
    ]
    assert body["count"] == 3


async def test_a_process_not_started_yet_gets_a_parsable_time(
    client: httpx.AsyncClient, team, procs: KeyValue
):
    app = team.app
    await write(
        procs, app, [process(app, "web", "1111111111-aaaaa", state="initializing", started=False)]
    )
    (pod,) = (await client.get(team.url, headers=team.headers["alice"])).json()["results"]
    assert TIMESTAMP.match(pod["started"])
    started = datetime.strptime(pod["started"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert abs(datetime.now(UTC) - started) < timedelta(minutes=1)


async def test_pods_of_one_type_and_one_pod(client: httpx.AsyncClient, team, procs: KeyValue):
    app = team.app
    await write(
        procs,
        app,
        [
            process(app, "web", "1234567890-aaaaa"),
            process(app, "worker", "1234567890-bbbbb"),
        ],
    )
    web = (await client.get(f"{team.url}web/", headers=team.headers["alice"])).json()
    assert names(web["results"]) == [f"{app}-web-1234567890-aaaaa"] and web["count"] == 1
    for name in (f"{app}-worker-1234567890-bbbbb", "worker-1234567890-bbbbb"):
        one = await client.get(f"{team.url}worker/{name}", headers=team.headers["alice"])
        assert one.status_code == 200
        assert one.json()["count"] == 1
        assert names(one.json()["results"]) == [f"{app}-worker-1234567890-bbbbb"]
    other = await client.get(
        f"{team.url}web/{app}-worker-1234567890-bbbbb/", headers=team.headers["alice"]
    )
    assert other.json() == {"results": [], "count": 0}


async def test_restart_answers_a_bare_array(client: httpx.AsyncClient, team, procs: KeyValue):
    app = team.app
    await write(
        procs,
        app,
        [
            process(app, "web", "1234567890-aaaaa", minutes=2),
            process(app, "worker", "1234567890-bbbbb"),
        ],
    )
    everything = await client.post(f"{team.url}restart/", headers=team.headers["bob"])
    assert everything.status_code == 200
    assert names(everything.json()) == [
        f"{app}-web-1234567890-aaaaa",
        f"{app}-worker-1234567890-bbbbb",
    ]
    of_type = await client.post(f"{team.url}worker/restart", headers=team.headers["bob"])
    assert names(of_type.json()) == [f"{app}-worker-1234567890-bbbbb"]
    short = await client.post(
        f"{team.url}web/web-1234567890-aaaaa/restart/", headers=team.headers["bob"]
    )
    assert short.status_code == 200
    assert names(short.json()) == [f"{app}-web-1234567890-aaaaa"]
    nothing = await client.post(f"{team.url}cron/restart/", headers=team.headers["bob"])
    assert nothing.json() == []


async def test_restart_requests_reach_the_desired_state_as_counters(
    client: httpx.AsyncClient, team, controller: FastAPI
):
    app = team.app

    async def restarts() -> dict[str, int]:
        async with controller.state.context.pool.acquire() as conn:
            payload = await conn.fetchval(
                "SELECT payload FROM outbox WHERE bucket = 'desired' AND key = $1"
                " ORDER BY seq DESC LIMIT 1",
                app,
            )
        value: dict[str, int] = json.loads(payload)["restarts"]
        return value

    assert await restarts() == {}
    await client.post(f"{team.url}restart/", headers=team.headers["bob"])
    await client.post(f"{team.url}restart/", headers=team.headers["alice"])
    await client.post(f"{team.url}worker/restart/", headers=team.headers["alice"])
    await client.post(f"{team.url}web/web-1234567890-aaaaa/restart/", headers=team.headers["root"])
    assert await restarts() == {"*": 2, "worker": 1, f"{app}-web-1234567890-aaaaa": 1}
    denied = await client.post(f"{team.url}restart/", headers=team.headers["eve"])
    assert denied.status_code == 403
    assert (await restarts())["*"] == 2


async def test_without_nats_pods_are_unavailable(
    client: httpx.AsyncClient, team, controller: FastAPI
):
    context = controller.state.context
    controller.state.context = dataclasses.replace(context, nc=None)
    try:
        for method, path in (("GET", team.url), ("POST", f"{team.url}restart/")):
            response = await client.request(method, path, headers=team.headers["alice"])
            assert response.status_code == 503
            assert response.json() == {
                "detail": "Service temporarily unavailable, try again later."
            }
    finally:
        controller.state.context = context


@pytest.mark.parametrize(
    ("who", "status"),
    [(None, 401), ("eve", 403), ("bob", 200), ("alice", 200), ("root", 200)],
)
async def test_who_may_list_and_restart(
    client: httpx.AsyncClient, team, who: str | None, status: int
):
    headers = team.headers[who] if who else {}
    for method, path in (
        ("GET", team.url),
        ("GET", f"{team.url}web/"),
        ("GET", f"{team.url}web/{team.app}-web-1234567890-aaaaa/"),
        ("POST", f"{team.url}restart/"),
        ("POST", f"{team.url}web/restart/"),
        ("POST", f"{team.url}web/{team.app}-web-1234567890-aaaaa/restart/"),
    ):
        response = await client.request(method, path, headers=headers)
        assert response.status_code == status, (method, path)


async def test_an_unknown_app_is_not_found(client: httpx.AsyncClient, team):
    response = await client.get("/v2/apps/no-such-app/pods/", headers=team.headers["alice"])
    assert response.status_code == 404
    assert response.json() == "No App matches the given query."
