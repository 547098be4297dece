"""The sums and percentiles of `deis metrics`, on messages made here (no server needed)."""

from datetime import UTC, datetime, timedelta

import pytest

from deis_controller import errors
from deis_controller.usecases import metrics
from deis_shared.events import metrics as metrics_events

FIRST = datetime(2026, 12, 7, 14, 0, tzinfo=UTC)
BOUNDS = metrics_events.LATENCY_BUCKETS


def histogram(**counts: int) -> list[int]:
    latency = [0] * metrics.BUCKETS
    for index, count in counts.items():
        latency[int(index.removeprefix("b"))] = count
    return latency


def message(start: datetime, **requests: int) -> metrics_events.RequestMetrics:
    total = sum(requests.values())
    return metrics_events.RequestMetrics(
        agent="router-a",
        app="app",
        start=start,
        seconds=30,
        requests={f"{key[1:]}xx": count for key, count in requests.items()},
        latency=histogram(b0=total),
    )


@pytest.mark.parametrize(
    ("latency", "quantile", "expected"),
    [
        (histogram(), 0.5, None),
        (histogram(b0=1), 0.5, BOUNDS[0]),
        (histogram(b0=1), 0.95, BOUNDS[0]),
        (histogram(b0=50, b3=50), 0.5, BOUNDS[0]),  # the 50th of 100 is the last in b0
        (histogram(b0=49, b3=51), 0.5, BOUNDS[3]),
        (histogram(b0=94, b7=6), 0.95, BOUNDS[7]),
        (histogram(b0=95, b7=5), 0.95, BOUNDS[0]),
        (histogram(b11=3), 0.5, BOUNDS[-1]),  # slower than every bound: the largest
    ],
)
def test_percentiles_from_the_histogram(latency, quantile, expected):
    assert metrics.percentile(latency, quantile) == expected


def test_the_window_ends_with_the_current_minute():
    now = datetime(2026, 12, 7, 14, 9, 59, 999, tzinfo=UTC)
    assert metrics.first_minute(now, minutes=10) == FIRST
    assert metrics.first_minute(now, minutes=1) == FIRST + timedelta(minutes=9)


def test_messages_count_in_the_minute_their_start_is_in():
    window = metrics.per_minute(
        [
            message(FIRST + timedelta(seconds=59), s2=3),  # runs into the next minute
            message(FIRST + timedelta(minutes=1), s5=1),
            message(FIRST - timedelta(seconds=1), s2=100),  # before the window
            message(FIRST + timedelta(minutes=3), s2=100),  # after it
        ],
        first=FIRST,
        minutes=3,
    )
    assert [minute.public()["requests"] for minute in window] == [3, 1, 0]
    assert [minute.public()["errors"] for minute in window] == [0, 1, 0]
    assert window[2].public()["latency_p50"] is None


@pytest.mark.parametrize("given", ["0", "1441", "x", "", "-1", "2.0", "1e3", "²", "٣", "99999999"])
def test_bad_minutes(given):
    with pytest.raises(errors.FieldErrors) as refused:
        metrics.parse_minutes(given)
    assert refused.value.fields == {"minutes": [metrics.MINUTES_MESSAGE]}


def test_minutes_default_and_bounds():
    assert metrics.parse_minutes(None) == metrics.DEFAULT_MINUTES == 60
    assert metrics.parse_minutes("1") == 1
    assert metrics.parse_minutes("1440") == 1440
