"""Response models of request metrics (`deis metrics`) for the OpenAPI document.

An extension of Deis's API (Deis's own client never calls it). As in `api.schemas`, the route
builds its JSON by hand; these only document it.
"""

from pydantic import BaseModel, Field


class StatusCountsOut(BaseModel):
    """Responses by status class."""

    one_xx: int = Field(alias="1xx")
    two_xx: int = Field(alias="2xx")
    three_xx: int = Field(alias="3xx")
    four_xx: int = Field(alias="4xx")
    five_xx: int = Field(alias="5xx")


class MinuteOut(BaseModel):
    """What every router served for the app in one minute."""

    start: str = Field(description="The minute's start, RFC 3339 UTC.")
    requests: int = Field(ge=0)
    requests_per_second: float = Field(ge=0)
    errors: int = Field(ge=0, description="Responses with a 5xx status.")
    error_rate: float = Field(ge=0, le=1, description="errors / requests; 0 without requests.")
    status: StatusCountsOut
    response_bytes: int = Field(ge=0)
    latency_p50: float | None = Field(description="Seconds, from the histogram; null if idle.")
    latency_p95: float | None = Field(description="Seconds, from the histogram; null if idle.")


class MetricsOut(BaseModel):
    """An app's requests per minute, oldest first, every minute of the window present."""

    app: str
    minutes: int = Field(ge=1, le=1440)
    interval_seconds: int
    results: list[MinuteOut]
