# mypy: allow-untyped-defs, allow-untyped-calls, allow-incomplete-defs
"""Per-app request metrics: nginx counts what it serves per app, the agent reads the counters
every interval, serves them as Prometheus metrics and publishes each interval's deltas on
`deis.metrics.requests.<app>`; an nginx restart neither loses nor doubles a count."""

import asyncio
import os
import signal

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from deis_shared.events import metrics as metrics_events
from deis_testing import free_port


@pytest.fixture
def router_overrides():
    return {
        "metrics_interval": 0.2,
        "health_port": free_port(),
        "controller_upstream": f"127.0.0.1:{free_port()}",  # nothing listens: 502s
    }


async def scrape(edge):
    """The agent's Prometheus samples: (name, labels as a sorted tuple) -> value."""
    async with httpx.AsyncClient(timeout=5) as http:
        response = await http.get(f"http://127.0.0.1:{edge.settings.health_port}/metrics")
    assert response.status_code == 200
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[sample.name, tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def requests_of(samples, app, status_class):
    key = (("app", app), ("status_class", status_class))
    return samples.get(("deis_router_requests_total", key), 0)


def bucket_of(samples, app, le):
    return samples[("deis_router_request_duration_seconds_bucket", (("app", app), ("le", le)))]


class Published:
    """The `RequestMetrics` the agent publishes, as a core subscriber receives them."""

    def __init__(self):
        self.messages: list[metrics_events.RequestMetrics] = []

    async def on_message(self, msg):
        self.messages.append(metrics_events.RequestMetrics.model_validate_json(msg.data))

    def total(self, app):
        return sum(m.total for m in self.messages if m.app == app)


@pytest.fixture
async def published(edge):
    found = Published()
    sub = await edge.nc.subscribe(metrics_events.REQUESTS_SUBJECTS, cb=found.on_message)
    try:
        yield found
    finally:
        await sub.unsubscribe()


async def routed(edge, until, app, port):
    await edge.serve(app, port)  # endpoints first: no 503 while the route goes live
    await edge.route(app)

    async def served():
        return (await edge.get(f"{app}.localhost", "/status/204")).status_code == 204

    await until(served)
    await edge.settled()


async def test_prometheus_counts_each_apps_responses_by_class_latency_and_bytes(
    edge, upstreams, until
):
    web = upstreams("web")
    await routed(edge, until, "meter", web.port)  # one 204 each
    await routed(edge, until, "other", web.port)
    await edge.route("idle")  # no process: the 503 page
    await until(lambda: _status(edge, "idle.localhost", 503))
    await edge.route("paused", maintenance=True)  # answered before any location
    await until(lambda: _status(edge, "paused.localhost", 503))
    await edge.settled()
    for _ in range(3):
        assert (await edge.get("meter.localhost")).status_code == 200
    for path, code in (("/status/404", 404), ("/status/404", 404), ("/status/500", 500)):
        assert (await edge.get("meter.localhost", path)).status_code == code
    assert (await edge.get("meter.localhost", "/sleep/0.3")).status_code == 200
    assert (await edge.get("nobody.localhost")).status_code == 404  # the default server
    assert (await edge.get("deis.localhost")).status_code == 502  # the controller's server

    async def counted():
        samples = await scrape(edge)
        return samples if requests_of(samples, "meter", "2xx") >= 5 else None

    samples = await until(counted)
    assert {c: requests_of(samples, "meter", c) for c in metrics_events.STATUS_CLASSES} == {
        "1xx": 0,
        "2xx": 5,  # 1 answer of 204 while waiting for the route, 3 fast, 1 slow
        "3xx": 0,
        "4xx": 2,
        "5xx": 1,
    }
    assert requests_of(samples, "other", "2xx") == 1
    assert requests_of(samples, "idle", "5xx") >= 1  # as many as the wait took
    assert requests_of(samples, "paused", "5xx") >= 1
    apps = {dict(labels)["app"] for (_, labels) in samples if "app" in dict(labels)}
    assert apps == {
        "meter",
        "other",
        "idle",
        "paused",
    }  # neither the default server nor the controller
    assert bucket_of(samples, "meter", "0.25") == 7  # the slow one is above it...
    assert bucket_of(samples, "meter", "0.5") == 8  # ...and in the 0.5 s bucket
    assert bucket_of(samples, "meter", "+Inf") == 8
    assert samples[("deis_router_request_duration_seconds_count", (("app", "meter"),))] == 8
    duration = samples[("deis_router_request_duration_seconds_sum", (("app", "meter"),))]
    assert 0.3 <= duration < 2
    sent = samples[("deis_router_response_bytes_total", (("app", "meter"),))]
    assert sent > 8 * 100  # every answer's head at least


async def _status(edge, host, code):
    return (await edge.get(host)).status_code == code


async def test_published_metrics_are_deltas_that_add_up_across_intervals(
    edge, upstreams, until, published
):
    web = upstreams("web")
    await routed(edge, until, "delta", web.port)
    made = 1
    for batch in (5, 3, 4):
        for _ in range(batch):
            assert (await edge.get("delta.localhost", "/status/404")).status_code == 404
        made += batch
        await until(lambda made=made: _true(published.total("delta") >= made))
        assert published.total("delta") == made  # each interval's delta, nothing twice
    messages = [m for m in published.messages if m.app == "delta"]
    assert len(messages) >= 3
    assert sum(m.requests.get("4xx", 0) for m in messages) == made - 1
    assert all(m.agent == "test-router" and m.seconds > 0 for m in messages)
    assert all(sum(m.latency) == m.total and m.response_bytes > 0 for m in messages)
    ends = [m.end for m in messages]
    assert all(m.start >= previous for m, previous in zip(messages[1:], ends, strict=False))
    samples = await scrape(edge)
    assert requests_of(samples, "delta", "4xx") == made - 1  # the same counts on /metrics


async def test_an_nginx_restart_neither_loses_nor_doubles_counts(edge, upstreams, until, published):
    web = upstreams("web")
    await routed(edge, until, "steady", web.port)
    for _ in range(3):
        assert (await edge.get("steady.localhost")).status_code == 200
    await until(lambda: _true(published.total("steady") >= 4))
    master = edge.router.ctx.master
    pid = master.pid
    os.kill(pid, signal.SIGKILL)  # its counters die with it

    async def restarted():
        return master.pid not in (None, pid)

    await until(restarted)
    await edge.settled()
    # More than before, at once (between two readings): taken as counted on from the last
    # value, they would count 6 - 4.
    answers = await asyncio.gather(*(edge.get("steady.localhost") for _ in range(6)))
    assert [answer.status_code for answer in answers] == [200] * 6
    await until(lambda: _true(published.total("steady") >= 10))
    assert published.total("steady") == 10
    samples = await scrape(edge)
    assert requests_of(samples, "steady", "2xx") == 10


async def _true(value):
    return value
