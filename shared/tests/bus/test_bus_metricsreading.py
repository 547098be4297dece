"""Reading an app's request metrics back from `METRICS`, against a private nats-server."""

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

import nats
import nats.aio.client
import pytest

from deis_shared import appnames, wire
from deis_shared.bus import errors, metricsreading, topology
from deis_shared.events import metrics
from deis_testing import NatsServer

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
BUCKETS = len(metrics.LATENCY_BUCKETS) + 1


@pytest.fixture
async def server(nats_server_factory: Callable[[], NatsServer]) -> NatsServer:
    """A private server: `METRICS` has one fixed name and subject space."""
    return nats_server_factory()


@pytest.fixture
async def nc(server: NatsServer) -> AsyncIterator[nats.aio.client.Client]:
    client = await nats.connect(server.url)
    await topology.ensure_topology(client.jetstream())
    try:
        yield client
    finally:
        await client.close()


def _sample(app: str, n: int, agent: str = "router-a") -> metrics.RequestMetrics:
    latency = [0] * BUCKETS
    latency[0] = n
    return metrics.RequestMetrics(
        agent=agent,
        app=app,
        start=T0 + timedelta(seconds=10 * n),
        seconds=10,
        requests={"2xx": n},
        latency=latency,
    )


async def _publish(nc: nats.aio.client.Client, messages: list[metrics.RequestMetrics]) -> None:
    js = nc.jetstream()
    for message in messages:
        await js.publish(metrics.requests_subject(message.app), wire.encode(message))


async def _read(nc: nats.aio.client.Client, app: str, since: datetime) -> list[int]:
    read = await metricsreading.read_requests(
        js=nc.jetstream(), nc=nc, app=app, since=since, heartbeat=0.2
    )
    return [message.total for message in read]


async def test_no_stream_or_no_messages_is_nothing(nc):
    assert await _read(nc, "nobody", T0) == []
    await nc.jetstream().delete_stream(metrics.STREAM)
    assert await _read(nc, "nobody", T0) == []


async def test_every_message_of_the_app_in_order_among_other_apps(nc):
    plan = [_sample(f"app{n % 3}", n, agent=f"router-{n % 2}") for n in range(1500)]
    await _publish(nc, plan)
    assert await _read(nc, "app1", T0) == [n for n in range(1500) if n % 3 == 1]
    info = await nc.jetstream().stream_info(metrics.STREAM)
    assert info.state.consumer_count == 0  # the consumer went with the reading


async def test_only_messages_stored_since_the_start_time(nc):
    await _publish(nc, [_sample("app", n) for n in range(3)])
    await asyncio.sleep(0.05)
    since = datetime.now(UTC)
    await asyncio.sleep(0.05)
    await _publish(nc, [_sample("app", n) for n in range(3, 6)])
    assert await _read(nc, "app", since) == [3, 4, 5]
    assert await _read(nc, "app", datetime.now(UTC) + timedelta(minutes=1)) == []


async def test_an_invalid_message_is_skipped(nc, caplog):
    js = nc.jetstream()
    await _publish(nc, [_sample("app", 1)])
    await js.publish(metrics.requests_subject("app"), b"not json")
    await _publish(nc, [_sample("app", 2)])
    assert await _read(nc, "app", T0) == [1, 2]
    assert "skipped request metrics of app" in caplog.text


async def test_an_invalid_app_name_is_refused(nc):
    with pytest.raises(appnames.InvalidAppName):
        await _read(nc, "Not An App", T0)


async def test_an_unreachable_server_is_unavailable(server: NatsServer):
    client = await nats.connect(server.url)
    await topology.ensure_topology(client.jetstream())
    await client.close()
    with pytest.raises(errors.BusUnavailable):
        await _read(client, "app", T0)
