"""`GET /v2/apps/<app>/metrics` (`deis metrics`): routers' request counts per minute.

The tests play two router agents, publishing `RequestMetrics` into `METRICS` on the session's
nats-server as the agents do; the controller reads them back. Minutes are found by their
`start` in the answer, so a minute that turns between publishing and asking changes nothing.
"""

import dataclasses
import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import nats.aio.client
import pytest
from fastapi import FastAPI

from deis_controller.usecases import metrics
from deis_shared import wire
from deis_shared.events import metrics as metrics_events

BUCKETS = len(metrics_events.LATENCY_BUCKETS) + 1
STATUS_ZERO = dict.fromkeys(metrics_events.STATUS_CLASSES, 0)


@pytest.fixture
def team_path() -> str:
    return "metrics"


def this_minute() -> datetime:
    return datetime.now(UTC).replace(second=0, microsecond=0)


def stamp(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def sample(
    app: str,
    agent: str,
    start: datetime,
    *,
    requests: dict[str, int],
    latency: dict[int, int],
    response_bytes: int = 0,
    seconds: float = 10.0,
) -> metrics_events.RequestMetrics:
    counts = [latency.get(index, 0) for index in range(BUCKETS)]
    return metrics_events.RequestMetrics(
        agent=agent,
        app=app,
        start=start,
        seconds=seconds,
        requests=requests,
        response_bytes=response_bytes,
        latency=counts,
    )


async def publish(nc: nats.aio.client.Client, *messages: metrics_events.RequestMetrics) -> None:
    js = nc.jetstream()
    for message in messages:
        await js.publish(metrics_events.requests_subject(message.app), wire.encode(message))


def by_start(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["start"]: entry for entry in body["results"]}


def idle(start: str) -> dict[str, Any]:
    return {
        "start": start,
        "requests": 0,
        "requests_per_second": 0.0,
        "errors": 0,
        "error_rate": 0.0,
        "status": STATUS_ZERO,
        "response_bytes": 0,
        "latency_p50": None,
        "latency_p95": None,
    }


def assert_whole_window(body: dict[str, Any], minutes: int) -> None:
    starts = [datetime.fromisoformat(entry["start"]) for entry in body["results"]]
    assert len(starts) == minutes
    assert all(b - a == timedelta(minutes=1) for a, b in itertools.pairwise(starts))
    assert starts[-1] >= this_minute() - timedelta(minutes=1)  # ends with the current minute


async def test_minutes_are_summed_over_routers_and_zero_filled(
    client: httpx.AsyncClient, team, nc: nats.aio.client.Client
):
    now = this_minute()
    busy, later = now - timedelta(minutes=5), now - timedelta(minutes=2)
    await publish(
        nc,
        sample(
            team.app,
            "router-a",
            busy,
            requests={"2xx": 90, "5xx": 10},
            latency={0: 50, 4: 45, 8: 5},
            response_bytes=1000,
        ),
        sample(
            team.app,
            "router-b",
            busy + timedelta(seconds=30),
            requests={"2xx": 100},
            latency={2: 100},
            response_bytes=2000,
        ),
        # Straddles the minute's end: counted in the minute its start falls in.
        sample(
            team.app,
            "router-a",
            later + timedelta(seconds=50),
            seconds=20,
            requests={"3xx": 6},
            latency={BUCKETS - 1: 6},
        ),
        # Another app's requests in the same minute are not this app's.
        sample("someone-else", "router-a", busy, requests={"2xx": 7}, latency={0: 7}),
    )
    response = await client.get(f"{team.url}?minutes=10", headers=team.headers["alice"])
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["app"], body["minutes"], body["interval_seconds"]) == (team.app, 10, 60)
    assert_whole_window(body, 10)
    minutes = by_start(body)
    assert minutes.pop(stamp(busy)) == {
        "start": stamp(busy),
        "requests": 200,
        "requests_per_second": pytest.approx(200 / 60),
        "errors": 10,
        "error_rate": 0.05,
        "status": {**STATUS_ZERO, "2xx": 190, "5xx": 10},
        "response_bytes": 3000,
        "latency_p50": 0.025,  # the 100th of 200 is in the third bucket
        "latency_p95": 0.1,  # the 190th in the fifth
    }
    assert minutes.pop(stamp(later)) == {
        "start": stamp(later),
        "requests": 6,
        "requests_per_second": 0.1,
        "errors": 0,
        "error_rate": 0.0,
        "status": {**STATUS_ZERO, "3xx": 6},
        "response_bytes": 0,
        "latency_p50": 10.0,  # slower than every bound: the largest
        "latency_p95": 10.0,
    }
    assert list(minutes.values()) == [idle(start) for start in minutes]


async def test_the_window_is_bound_by_minutes(
    client: httpx.AsyncClient, team, nc: nats.aio.client.Client
):
    old = this_minute() - timedelta(minutes=30)
    await publish(nc, sample(team.app, "router-a", old, requests={"2xx": 5}, latency={1: 5}))
    short = await client.get(f"{team.url}?minutes=10", headers=team.headers["bob"])
    assert short.status_code == 200
    assert_whole_window(short.json(), 10)
    assert sum(entry["requests"] for entry in short.json()["results"]) == 0
    long = await client.get(team.url, headers=team.headers["bob"])  # 60 minutes by default
    assert long.status_code == 200
    assert_whole_window(long.json(), 60)
    assert long.json()["minutes"] == 60
    assert by_start(long.json())[stamp(old)]["requests"] == 5


async def test_an_app_without_metrics_has_zeros(client: httpx.AsyncClient, team):
    response = await client.get(f"{team.url}?minutes=3", headers=team.headers["alice"])
    assert response.status_code == 200
    body = response.json()
    assert_whole_window(body, 3)
    assert body["results"] == [idle(entry["start"]) for entry in body["results"]]


async def test_an_invalid_message_is_skipped(
    client: httpx.AsyncClient, team, nc: nats.aio.client.Client
):
    now = this_minute()
    js = nc.jetstream()
    await js.publish(metrics_events.requests_subject(team.app), b'{"not": "metrics"}')
    await publish(nc, sample(team.app, "router-b", now, requests={"5xx": 4}, latency={3: 4}))
    response = await client.get(f"{team.url}?minutes=2", headers=team.headers["alice"])
    assert response.status_code == 200
    entries = response.json()["results"]
    assert sum(entry["errors"] for entry in entries) == 4
    assert {entry["error_rate"] for entry in entries if entry["requests"]} == {1.0}


@pytest.mark.parametrize("given", ["0", "1441", "-5", "1.5", "abc", "", " "])
async def test_a_bad_minutes_is_a_400(client: httpx.AsyncClient, team, given: str):
    response = await client.get(team.url, params={"minutes": given}, headers=team.headers["alice"])
    assert response.status_code == 400
    assert response.json() == {"minutes": [metrics.MINUTES_MESSAGE]}


@pytest.mark.parametrize("given", ["1", "1440"])
async def test_the_bounds_of_minutes(client: httpx.AsyncClient, team, given: str):
    response = await client.get(team.url, params={"minutes": given}, headers=team.headers["root"])
    assert response.status_code == 200
    assert len(response.json()["results"]) == int(given)


@pytest.mark.parametrize(
    ("who", "status"),
    [(None, 401), ("eve", 403), ("bob", 200), ("alice", 200), ("root", 200)],
)
async def test_who_may_read_metrics(client: httpx.AsyncClient, team, who: str | None, status: int):
    headers = team.headers[who] if who else {}
    for path in (team.url, team.url.rstrip("/")):
        assert (await client.get(path, headers=headers)).status_code == status


async def test_an_unknown_app_is_a_404(client: httpx.AsyncClient, team):
    response = await client.get(f"/v2/apps/{team.app}x/metrics", headers=team.headers["root"])
    assert (response.status_code, response.json()) == (404, "No App matches the given query.")


async def test_without_nats_metrics_are_unavailable(
    client: httpx.AsyncClient, team, controller: FastAPI
):
    context = controller.state.context
    controller.state.context = dataclasses.replace(context, nc=None)
    try:
        response = await client.get(team.url, headers=team.headers["alice"])
    finally:
        controller.state.context = context
    assert response.status_code == 503
    assert response.json() == {"detail": "Service temporarily unavailable, try again later."}
