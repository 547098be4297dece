"""A settings change of how the router serves an app waits for the router (app.rerouting).

The test plays the router: it publishes `router.applied` on the real NATS once KV `routes`
holds the change (the controller's outbox writes it). The change answers once the router said
it applied the app's new routes; with no router it answers, as made, at `route_wait`; a change
meanwhile gets 409; settings the router does not serve (labels) answer at once; `rollout_wait`
0 never waits.
"""

import asyncio
import time
from collections.abc import AsyncIterator

import nats
import nats.aio.client
import pytest
from fastapi import FastAPI

from deis_shared import wire
from deis_shared.events import router as router_events
from deis_shared.kv import routes as routes_kv
from deis_testing import NatsServer

ROUTE_WAIT = 1.5


@pytest.fixture
def controller_overrides():
    return {"rollout_wait": 5.0, "route_wait": ROUTE_WAIT}


@pytest.fixture
async def nc(nats_server: NatsServer, controller: FastAPI) -> AsyncIterator[nats.aio.client.Client]:
    del controller
    connection = await nats.connect(nats_server.url)
    try:
        yield connection
    finally:
        await connection.close()


async def applied(
    nc: nats.aio.client.Client,
    *apps: str,
    revision: int = 1,
    routes: list[str] | None = None,
) -> None:
    event = router_events.RouterApplied(
        agent="router-test",
        revision=revision,
        latency_seconds=0.01,
        apps=sorted(apps),
        routes=routes,
    )
    await nc.publish(router_events.APPLIED_SUBJECT, wire.encode(event))
    await nc.flush()


async def until_routes(
    nc: nats.aio.client.Client,
    app: str,
    *,
    routable: bool = True,
    whitelist: list[str] | None = None,
) -> None:
    """Return once KV `routes` holds the app's routes with `routable` (the outbox wrote it)."""
    watcher = await (await nc.jetstream().key_value(routes_kv.BUCKET)).watch(app)
    try:
        while True:
            entry = await watcher.updates(timeout=5)
            if entry is None or not entry.value:
                continue
            routes = wire.decode(entry.value, routes_kv.Routes)
            if routes.routable != routable:
                continue
            if whitelist is None or [str(item) for item in routes.whitelist] == whitelist:
                return
    finally:
        await watcher.stop()


async def test_routing_disabled_answers_once_the_router_applied_it(client, auth, owner, app_id, nc):
    app, headers = app_id, auth(owner)
    told = asyncio.Event()

    async def router() -> None:
        await applied(nc, "some-other-app")  # not this app's: no answer on it
        await until_routes(nc, app, routable=False)
        await asyncio.sleep(0.4)
        told.set()
        await applied(nc, app, revision=2)

    playing = asyncio.create_task(router())
    began = time.monotonic()
    answer = await client.post(
        f"/v2/apps/{app}/settings/", json={"routable": False}, headers=headers
    )
    took = time.monotonic() - began
    assert answer.status_code == 201, answer.text
    assert answer.json()["routable"] is False
    assert told.is_set()  # not before the router said so
    assert took < ROUTE_WAIT
    await playing


async def test_a_revision_of_the_apps_endpoints_alone_does_not_answer_a_routing_change(
    client, auth, owner, app_id, nc
):
    app, headers = app_id, auth(owner)
    told = asyncio.Event()

    async def router() -> None:
        await until_routes(nc, app, routable=False)
        # The scheduler emptied the app's endpoints: the balancer takes that first.
        await applied(nc, app, revision=2, routes=[])
        await asyncio.sleep(0.4)
        told.set()
        await applied(nc, app, revision=3, routes=[app])  # the reload without its server

    playing = asyncio.create_task(router())
    answer = await client.post(
        f"/v2/apps/{app}/settings/", json={"routable": False}, headers=headers
    )
    assert answer.status_code == 201, answer.text
    assert told.is_set()  # not on the endpoints' revision
    await playing


async def test_a_whitelist_change_answers_once_the_router_applied_it(
    client, auth, owner, app_id, nc
):
    app, headers = app_id, auth(owner)
    told = asyncio.Event()

    async def router() -> None:
        await until_routes(nc, app, whitelist=["10.0.0.0/8"])
        await asyncio.sleep(0.4)
        told.set()
        await applied(nc, app)

    playing = asyncio.create_task(router())
    began = time.monotonic()
    answer = await client.post(
        f"/v2/apps/{app}/whitelist/", json={"addresses": ["10.0.0.0/8"]}, headers=headers
    )
    assert answer.status_code == 201, answer.text
    assert told.is_set()
    assert time.monotonic() - began < ROUTE_WAIT
    await playing


async def test_no_router_answers_as_made_at_route_wait(client, auth, owner, app_id):
    headers = auth(owner)
    began = time.monotonic()
    answer = await client.post(
        f"/v2/apps/{app_id}/settings/", json={"maintenance": True}, headers=headers
    )
    took = time.monotonic() - began
    assert answer.status_code == 201, answer.text
    assert ROUTE_WAIT - 0.1 < took < ROUTE_WAIT + 2
    shown = (await client.get(f"/v2/apps/{app_id}/settings/", headers=headers)).json()
    assert shown["maintenance"] is True  # made all the same


async def test_a_change_while_one_waits_is_refused_with_409(client, auth, owner, app_id):
    headers = auth(owner)
    first = asyncio.create_task(
        client.post(f"/v2/apps/{app_id}/settings/", json={"routable": False}, headers=headers)
    )
    await asyncio.sleep(0.5)
    second = await client.post(
        f"/v2/apps/{app_id}/settings/", json={"maintenance": True}, headers=headers
    )
    assert second.status_code == 409
    assert second.json() == {"detail": f"Deployment for {app_id} is already in progress"}
    assert (await first).status_code == 201


async def test_labels_answer_at_once(client, auth, owner, app_id):
    began = time.monotonic()
    answer = await client.post(
        f"/v2/apps/{app_id}/settings/", json={"label": {"team": "web"}}, headers=auth(owner)
    )
    assert answer.status_code == 201, answer.text
    assert time.monotonic() - began < 1.0  # the router serves no label


class TestWithoutWaiting:
    @pytest.fixture
    def controller_overrides(self):
        return {"rollout_wait": 0.0, "route_wait": ROUTE_WAIT}

    async def test_answers_at_once(self, client, auth, owner, app_id):
        began = time.monotonic()
        answer = await client.post(
            f"/v2/apps/{app_id}/settings/", json={"routable": False}, headers=auth(owner)
        )
        assert answer.status_code == 201, answer.text
        assert time.monotonic() - began < 1.0
