"""An app's recent request rate and error rate (`deis metrics`; our extension of Deis's API).

Router agents publish, per app and interval, what they served (`RequestMetrics`, a delta) on
stream `METRICS`; this module reads the app's messages of the window back
(`deis_shared.bus.metricsreading`) and sums them per minute over every router. Every minute of
the window is answered, those without traffic with zeros, so a chart has no holes.

A message counts in the minute its `start` falls in, even when its interval runs into the
next minute: routers publish every few seconds, so the part that spills over is small, and
splitting a message would invent how its requests were spread.

The window is the `minutes` whole minutes ending with the current one (which is still
filling). Messages are read from the first minute's start on: a router publishes a delta at
the end of its interval, so every message whose `start` is in the window was stored after
the window began; those stored then but starting earlier are left out.
"""

import logging
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from deis_controller import errors
from deis_controller.domain.formats import timestamp
from deis_controller.usecases.context import Context
from deis_shared.bus import errors as bus_errors, metricsreading
from deis_shared.events import metrics as metrics_events

logger = logging.getLogger(__name__)

INTERVAL_SECONDS = 60
"""Seconds per entry of the answer."""

DEFAULT_MINUTES = 60
MAX_MINUTES = 1440
"""A day: what `METRICS` keeps."""

MINUTES_MESSAGE = f"Must be a whole number of minutes from 1 to {MAX_MINUTES}."

BUCKETS = len(metrics_events.LATENCY_BUCKETS) + 1

_WHOLE = re.compile(r"[0-9]{1,5}")
"""ASCII digits only: `str.isdigit` takes `²`, which `int` refuses."""


def parse_minutes(value: str | None) -> int:
    """The `minutes` query parameter; `DEFAULT_MINUTES` when absent.

    Raises:
        FieldErrors: Not an integer from 1 to `MAX_MINUTES`.
    """
    if value is None:
        return DEFAULT_MINUTES
    text = value.strip()
    if not _WHOLE.fullmatch(text) or not 1 <= int(text) <= MAX_MINUTES:
        raise errors.FieldErrors.one("minutes", MINUTES_MESSAGE)
    return int(text)


def percentile(latency: list[int], quantile: float) -> float | None:
    """The latency below which `quantile` of the responses fall, from histogram counts.

    The upper bound of the bucket where the cumulative count reaches the quantile's rank; for
    the last bucket (slower than every bound) the largest bound, read as "that or more".
    `None` without responses.
    """
    total = sum(latency)
    if total == 0:
        return None
    rank = max(1, math.ceil(quantile * total))
    bounds = metrics_events.LATENCY_BUCKETS
    seen = 0
    for index, count in enumerate(latency):
        seen += count
        if seen >= rank:
            return bounds[min(index, len(bounds) - 1)]
    return bounds[-1]


@dataclass
class Minute:
    """What every router served in one minute."""

    start: datetime
    requests: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(metrics_events.STATUS_CLASSES, 0)
    )
    response_bytes: int = 0
    latency: list[int] = field(default_factory=lambda: [0] * BUCKETS)

    def add(self, message: metrics_events.RequestMetrics) -> None:
        """Count one router's message in."""
        for status, count in message.requests.items():
            self.requests[status] += count
        self.response_bytes += message.response_bytes
        self.latency = [
            mine + theirs for mine, theirs in zip(self.latency, message.latency, strict=True)
        ]

    def public(self) -> dict[str, Any]:
        """The entry of the answer."""
        total = sum(self.requests.values())
        failed = self.requests["5xx"]
        return {
            "start": timestamp(self.start),
            "requests": total,
            "requests_per_second": total / INTERVAL_SECONDS,
            "errors": failed,
            "error_rate": failed / total if total else 0.0,
            "status": dict(self.requests),
            "response_bytes": self.response_bytes,
            "latency_p50": percentile(self.latency, 0.5),
            "latency_p95": percentile(self.latency, 0.95),
        }


def first_minute(now: datetime, *, minutes: int) -> datetime:
    """The start of the window of `minutes` minutes ending with the one `now` is in."""
    current = now.astimezone(UTC).replace(second=0, microsecond=0)
    return current - timedelta(minutes=minutes - 1)


def per_minute(
    messages: Iterable[metrics_events.RequestMetrics], *, first: datetime, minutes: int
) -> list[Minute]:
    """Sum `messages` into the `minutes` minutes from `first`, oldest first.

    A message counts in the minute its `start` falls in; one starting outside the window
    (before `first`, or after its last minute) is left out.
    """
    window = [Minute(start=first + timedelta(minutes=n)) for n in range(minutes)]
    for message in messages:
        index = math.floor((message.start - first).total_seconds() / INTERVAL_SECONDS)
        if 0 <= index < minutes:
            window[index].add(message)
    return window


async def recent(
    *, ctx: Context, app_id: str, minutes: int, now: datetime | None = None
) -> dict[str, Any]:
    """The app's requests per minute over the last `minutes` minutes, as the API answers.

    Raises:
        ServiceUnavailable: NATS cannot be reached, or did not answer.
    """
    if ctx.nc is None or not ctx.nc.is_connected:
        raise errors.ServiceUnavailable()
    first = first_minute(now or datetime.now(UTC), minutes=minutes)
    try:
        messages = await metricsreading.read_requests(
            js=ctx.nc.jetstream(timeout=ctx.settings.rpc_timeout),
            nc=ctx.nc,
            app=app_id,
            since=first,
            max_seconds=max(10.0, ctx.settings.rpc_timeout),
        )
    except bus_errors.BusError as exc:
        logger.warning("cannot read the request metrics of %s: %s", app_id, exc)
        raise errors.ServiceUnavailable() from exc
    return {
        "app": app_id,
        "minutes": minutes,
        "interval_seconds": INTERVAL_SECONDS,
        "results": [
            minute.public() for minute in per_minute(messages, first=first, minutes=minutes)
        ],
    }
