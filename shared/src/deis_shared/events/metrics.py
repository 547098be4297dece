"""Request metrics: what each router served for an app in one interval, on stream `METRICS`.

Subject: `deis.metrics.requests.<app>`. Each router agent reads nginx's counters every
interval and publishes, per app that had requests, what changed since the last reading (a
delta, never a running total: several routers' messages add up, and an nginx restart loses
nothing already sent). The controller reads an app's subject back from a start time to answer
`GET /v2/apps/<app>/metrics`. Like `LOGS`, this is not an event stream: the messages expire
after `MAX_AGE`, and a lost one only leaves a gap in a chart.
"""

from datetime import datetime, timedelta
from typing import Final, Literal

from pydantic import Field, model_validator

from deis_shared import appnames, wire

STREAM: Final = "METRICS"
"""The JetStream stream holding request metrics."""

SUBJECTS: Final = "deis.metrics.>"
"""The stream's subjects."""

REQUESTS_SUBJECTS: Final = "deis.metrics.requests.*"
"""Every app's request metrics."""

MAX_AGE: Final = 86400.0
"""Seconds a message is kept."""

LATENCY_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
"""Upper bounds (seconds, inclusive) of the latency histogram's buckets; one more counts the
rest. Prometheus's default buckets."""

STATUS_CLASSES: Final = ("1xx", "2xx", "3xx", "4xx", "5xx")
"""The status classes counted."""

StatusClass = Literal["1xx", "2xx", "3xx", "4xx", "5xx"]


def requests_subject(app: str) -> str:
    """Subject of an app's request metrics.

    Raises:
        InvalidAppName: `app` is not a valid app name.
    """
    return f"deis.metrics.requests.{appnames.validate_app_name(app)}"


class RequestMetrics(wire.Message):
    """What router `agent` served for `app` from `start` for `seconds`."""

    schema_version: Literal[1] = Field(1, alias="schema")

    agent: str = Field(min_length=1, max_length=253)
    """The router agent that counted (as in its `router.applied` events)."""
    app: appnames.AppName
    start: wire.UtcDatetime
    """Start of the interval."""
    seconds: float = Field(gt=0)
    """Length of the interval."""
    requests: dict[StatusClass, int] = Field(default_factory=dict)
    """Responses by status class (classes without any left out)."""
    response_bytes: int = Field(0, ge=0)
    """Bytes sent to clients, headers included."""
    latency: list[int]
    """Responses per latency bucket: `len(LATENCY_BUCKETS) + 1` counts, the last one for
    responses slower than the largest bound."""

    @model_validator(mode="after")
    def _shape(self) -> "RequestMetrics":
        if len(self.latency) != len(LATENCY_BUCKETS) + 1:
            raise ValueError(f"latency needs {len(LATENCY_BUCKETS) + 1} bucket counts")
        if any(count < 0 for count in (*self.latency, *self.requests.values())):
            raise ValueError("counts cannot be negative")
        return self

    @property
    def total(self) -> int:
        """Every response counted."""
        return sum(self.requests.values())

    @property
    def end(self) -> datetime:
        """End of the interval."""
        return self.start + timedelta(seconds=self.seconds)
