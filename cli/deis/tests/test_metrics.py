"""`deis metrics`: the chart on a known answer, and the command against the real controller,
with requests published into `METRICS` as two router agents would."""

import asyncio
import json
from datetime import UTC, datetime, timedelta

import nats
import pytest

from deis_cli.commands import metrics
from deis_shared import wire
from deis_shared.events import metrics as metrics_events
from deis_testing import NatsServer

CHART = """\
=== myapp Requests, last 4 minutes (UTC, 1 minute per row)
TIME      REQ/S  ERRORS     P95
14:40      2.00    0.0%    25ms  ██████████████████████████████
14:41      0.00       -       -
14:42      1.00   10.0%      1s  ███████████████
14:43      0.50  100.0%    2.5s  ███████▌
210 requests, 36 errors (17.1%)"""


def entry(minute: int, requests: int, errors: int, p95: float | None) -> dict[str, object]:
    return {
        "start": f"2026-12-07T14:{minute:02d}:00Z",
        "requests": requests,
        "requests_per_second": requests / 60,
        "errors": errors,
        "error_rate": errors / requests if requests else 0.0,
        "status": {"1xx": 0, "2xx": requests - errors, "3xx": 0, "4xx": 0, "5xx": errors},
        "response_bytes": 0,
        "latency_p50": p95,
        "latency_p95": p95,
    }


def test_the_chart_of_a_known_answer():
    answer = {
        "app": "myapp",
        "minutes": 4,
        "interval_seconds": 60,
        "results": [
            entry(40, 120, 0, 0.025),
            entry(41, 0, 0, None),
            entry(42, 60, 6, 1.0),
            entry(43, 30, 30, 2.5),
        ],
    }
    assert metrics.render(answer) == CHART


def test_a_long_window_groups_minutes_into_at_most_30_rows():
    results = [entry(n % 60, 60 if n == 59 else 0, 0, None) for n in range(61)]
    chart = metrics.render({"app": "a", "minutes": 61, "interval_seconds": 60, "results": results})
    lines = chart.splitlines()
    assert lines[0] == "=== a Requests, last 61 minutes (UTC, 3 minutes per row)"
    assert len(lines) == 2 + 21 + 1  # a first row of the one minute left over, then 20 of 3
    assert lines[2].startswith("14:00")
    assert lines[-2] == "14:58      0.33    0.0%       -  " + "█" * 30  # 60 requests in 3 minutes
    assert lines[-1] == "60 requests, 0 errors (0.0%)"


def test_an_idle_window_has_no_bars():
    results = [entry(n, 0, 0, None) for n in range(2)]
    chart = metrics.render({"app": "a", "minutes": 2, "interval_seconds": 60, "results": results})
    assert chart.splitlines()[2:] == [
        "14:00      0.00       -       -",
        "14:01      0.00       -       -",
        "0 requests, 0 errors (-)",
    ]


async def _publish(url: str, app: str, start: datetime) -> None:
    latency = [0] * (len(metrics_events.LATENCY_BUCKETS) + 1)
    client = await nats.connect(url)
    try:
        js = client.jetstream()
        for agent, counts in (("router-a", {"2xx": 50, "5xx": 10}), ("router-b", {"2xx": 60})):
            latency[3] = sum(counts.values())
            message = metrics_events.RequestMetrics(
                agent=agent,
                app=app,
                start=start,
                seconds=10,
                requests=counts,
                latency=list(latency),
            )
            await js.publish(metrics_events.requests_subject(app), wire.encode(message))
    finally:
        await client.close()


@pytest.fixture
def app(admin, app_name):
    admin.ok("create", app_name, "--no-remote")
    return app_name


def test_metrics_against_the_controller(admin, app, module_nats_server: NatsServer):
    minute = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=1)
    asyncio.run(_publish(module_nats_server.url, app, minute))
    chart = admin.ok("metrics", "-a", app, "--minutes", "5").splitlines()
    assert chart[0] == f"=== {app} Requests, last 5 minutes (UTC, 1 minute per row)"
    assert len(chart) == 2 + 5 + 1
    assert f"{minute:%H:%M}      2.00    8.3%    50ms  " + "█" * 30 in chart
    assert chart[-1] == "120 requests, 10 errors (8.3%)"
    answer = json.loads(admin.ok("metrics", "-a", app, "--minutes", "5", "--json"))
    assert sum(each["requests"] for each in answer["results"]) == 120
    assert admin("metrics", "-a", app, "--minutes", "0").code == 2


def test_metrics_of_someone_elses_app_are_refused(admin, app, user):
    stranger = user()
    refused = stranger.fails("metrics", "-a", app)
    assert refused == "deis: 403 Forbidden: You do not have permission to perform this action."
