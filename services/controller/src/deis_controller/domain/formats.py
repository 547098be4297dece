"""Wire formats of the REST API's values."""

from datetime import UTC, datetime


def timestamp(value: datetime) -> str:
    """Render a time as Deis does: `YYYY-MM-DDTHH:MM:SSZ`, UTC, no fractions (docs/api.md §1.8)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def optional_timestamp(value: datetime | None) -> str | None:
    """`timestamp`, or `None` for a missing time."""
    return None if value is None else timestamp(value)
