"""Request metrics: `deis metrics` (our extension of Deis's API; Deis's own client has none).

The controller answers every minute of the window, summed over the routers
(`GET /v2/apps/<app>/metrics`); this prints it as a small chart, one row per minute, or per
group of minutes when the window is long, so that it stays within `MAX_ROWS` rows.
"""

import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import click

from deis_cli import errors, rendering
from deis_cli.commands import session
from deis_cli.commands.session import app_option, app_path, json_option

MAX_ROWS = 30
"""The most rows a chart has; longer windows group minutes."""

BAR_WIDTH = 30
"""Characters of the longest bar."""

EIGHTHS = " ▏▎▍▌▋▊▉"
"""Partial blocks, by eighths of a character."""

FULL = "█"


def bar(value: float, *, largest: float, width: int = BAR_WIDTH) -> str:
    """A bar of block characters, `width` long for `largest`, to the nearest eighth."""
    if largest <= 0 or value <= 0:
        return ""
    eighths = max(1, round(value / largest * width * 8))
    whole, part = divmod(eighths, 8)
    return FULL * whole + (EIGHTHS[part] if part else "")


def seconds(value: float | None) -> str:
    """A latency for people: `25ms`, `2.5s`; `-` when unknown."""
    if value is None:
        return "-"
    if value < 1:
        return f"{value * 1000:.0f}ms"
    return f"{value:g}s"


def _groups(results: Sequence[dict[str, Any]]) -> list[Sequence[dict[str, Any]]]:
    """Consecutive minutes in groups, the newest group ending with the current minute."""
    size = max(1, math.ceil(len(results) / MAX_ROWS))
    first = len(results) % size
    heads = [results[:first]] if first else []
    return heads + [results[i : i + size] for i in range(first, len(results), size)]


def _number(entry: dict[str, Any], key: str) -> int:
    value = entry.get(key)
    return value if isinstance(value, int) else 0


def render(answer: dict[str, Any]) -> str:
    """The chart of a metrics answer: heading, one row per minute or group, a summary.

    A row shows when it starts (UTC), requests per second, the share of 5xx responses, the
    95th-percentile latency (a group's worst minute), and a bar scaled to the busiest row.
    """
    results: list[dict[str, Any]] = list(answer.get("results") or [])
    interval = int(answer.get("interval_seconds") or 60)
    groups = _groups(results)
    size = max((len(group) for group in groups), default=1)
    rows = []
    for group in groups:
        requests = sum(_number(entry, "requests") for entry in group)
        failed = sum(_number(entry, "errors") for entry in group)
        p95s = [entry["latency_p95"] for entry in group if entry.get("latency_p95") is not None]
        rows.append(
            (
                datetime.fromisoformat(group[0]["start"]).strftime("%H:%M"),
                requests / (len(group) * interval),
                f"{failed / requests:.1%}" if requests else "-",
                seconds(max(p95s) if p95s else None),
            )
        )
    largest = max((row[1] for row in rows), default=0.0)
    per_row = "1 minute" if size == 1 else f"{size} minutes"
    lines = [
        f"=== {answer.get('app')} Requests, last {answer.get('minutes')} minutes"
        f" (UTC, {per_row} per row)",
        f"{'TIME':<5}  {'REQ/S':>8}  {'ERRORS':>6}  {'P95':>6}",
    ]
    for time, rate, failing, p95 in rows:
        chart = bar(rate, largest=largest)
        lines.append(f"{time:<5}  {rate:>8.2f}  {failing:>6}  {p95:>6}  {chart}".rstrip())
    total = sum(_number(entry, "requests") for entry in results)
    failed = sum(_number(entry, "errors") for entry in results)
    share = f"{failed / total:.1%}" if total else "-"
    lines.append(f"{total:,} requests, {failed:,} errors ({share})")
    return "\n".join(lines)


@click.command("metrics")
@app_option
@click.option(
    "--minutes",
    type=click.IntRange(1, 1440),
    default=60,
    show_default=True,
    help="How many minutes back, the current one included.",
)
@json_option
def metrics(app: str | None, minutes: int, as_json: bool) -> None:
    """Show the app's request rate, error rate and latency, minute by minute."""
    current = session.current()
    with current.client() as api:
        name = current.app(app)
        answer = api.get(app_path(name, "metrics"), params={"minutes": minutes})
    if as_json:
        rendering.emit_json(answer)
        return
    if not isinstance(answer, dict):
        raise errors.CliError("the controller's metrics answer is not an object")
    click.echo(render(answer))


COMMANDS = [metrics]
ALIASES = {"metrics:list": "metrics"}
