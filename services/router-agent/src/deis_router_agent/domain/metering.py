"""Per-app request counters in nginx: their part of the configuration, and reading them back.

nginx counts what it served for each app in a shared dict (`nginx/deis_metrics.lua`):

    http {
        lua_shared_dict deis_metrics <metrics_memory>m;
        init_by_lua_block { ...; require("deis_metrics").configure({<latency bounds>}) }
        server { listen "unix:<socket>"; location = /metrics { content_by_lua_block ... } }
    }
    server { ...; log_by_lua_block { require("deis_metrics").record("<app>") } }   (per app)

The counters only grow while the master lives. The agent reads them through the balancer's
socket (agent only) as lines, `parse`s them, and `Counters.advance` turns each reading into
what changed since the last one: an nginx restart (a new `@epoch`) or a counter that went down
(evicted from a full dict) restarts from zero, so a delta is never negative and nothing is
counted twice.
"""

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from deis_shared import appnames
from deis_shared.events import metrics as metrics_events

logger = logging.getLogger(__name__)

LUA_MODULE = "deis_metrics"
"""The Lua module's name: `<options.paths.lua>/deis_metrics.lua`."""

SHARED_DICT = "deis_metrics"

BUCKETS = len(metrics_events.LATENCY_BUCKETS) + 1
"""Latency buckets counted: one per bound, and one for slower responses."""

COUNTERS = frozenset(
    {*metrics_events.STATUS_CLASSES, "bytes", "ms", *(f"b{i}" for i in range(1, BUCKETS + 1))}
)
"""The counters nginx keeps per app (`deis_metrics.lua`)."""

EPOCH = "@epoch"
_COUNT = re.compile(r"[0-9]{1,20}", re.ASCII)


def init_code() -> str:
    """The Lua that configures the module (in the `init_by_lua_block` the balancer owns)."""
    bounds = ", ".join(repr(bound) for bound in metrics_events.LATENCY_BUCKETS)
    return f'require("{LUA_MODULE}").configure({{{bounds}}})'


def http_lines(*, megabytes: int) -> list[str]:
    """Lines inside `http { }`: the shared dict."""
    return [f"lua_shared_dict {SHARED_DICT} {int(megabytes)}m;"]


def socket_lines() -> list[str]:
    """The location of the agent's socket server that answers the counters."""
    return [f'location = /metrics {{ content_by_lua_block {{ require("{LUA_MODULE}").dump() }} }}']


def server_line() -> str:
    """The line, in each server of the apps, counting the responses of `$deis_app`'s app.

    The route table's Lua sets the variable; empty (an unknown host, say), nothing counts.
    """
    return f'log_by_lua_block {{ require("{LUA_MODULE}").record(ngx.var.deis_app) }}'


@dataclass(frozen=True, slots=True)
class Reading:
    """nginx's counters at one moment: per app, counter name → value."""

    epoch: str
    apps: dict[str, dict[str, int]]


def parse(text: str) -> Reading | None:
    """The reading nginx answered, or None (logged) when it has no epoch line.

    A line that does not name a valid app, a known counter and a non-negative integer is
    skipped with a warning; the others are kept.
    """
    lines = text.splitlines()
    if not lines or not lines[0].startswith(f"{EPOCH} ") or len(lines[0].split()) != 2:
        logger.warning("ignoring nginx's counters: no epoch line in %r", text[:100])
        return None
    epoch = lines[0].split()[1]
    apps: dict[str, dict[str, int]] = {}
    skipped = []
    for line in lines[1:]:
        parts = line.split(" ")
        if len(parts) != 3 or parts[1] not in COUNTERS or not _COUNT.fullmatch(parts[2]):
            skipped.append(line)
            continue
        app, counter, value = parts
        try:
            appnames.validate_app_name(app)
        except appnames.InvalidAppName:
            skipped.append(line)
            continue
        apps.setdefault(app, {})[counter] = int(value)
    if skipped:
        logger.warning(
            "ignoring %d malformed counter lines from nginx, as %r", len(skipped), skipped[0][:100]
        )
    return Reading(epoch=epoch, apps=apps)


@dataclass
class Usage:
    """What one app was served: in an interval, or since the agent started."""

    requests: dict[str, int] = field(default_factory=dict)
    """Responses by status class (classes with none left out)."""
    response_bytes: int = 0
    milliseconds: int = 0
    """Request times summed."""
    latency: list[int] = field(default_factory=lambda: [0] * BUCKETS)
    """Responses per latency bucket, the last one for the slowest."""

    @property
    def total(self) -> int:
        """Every response counted."""
        return sum(self.requests.values())

    def add(self, other: "Usage") -> None:
        """Add `other`'s counts to these."""
        for status_class, count in other.requests.items():
            self.requests[status_class] = self.requests.get(status_class, 0) + count
        self.response_bytes += other.response_bytes
        self.milliseconds += other.milliseconds
        self.latency = [
            mine + theirs for mine, theirs in zip(self.latency, other.latency, strict=True)
        ]

    @classmethod
    def of(cls, counters: Mapping[str, int]) -> "Usage":
        """Usage from counters named as nginx names them."""
        return cls(
            requests={
                name: counters[name]
                for name in metrics_events.STATUS_CLASSES
                if counters.get(name, 0) > 0
            },
            response_bytes=counters.get("bytes", 0),
            milliseconds=counters.get("ms", 0),
            latency=[counters.get(f"b{i}", 0) for i in range(1, BUCKETS + 1)],
        )


class Counters:
    """nginx's counters as last read, and what changed since."""

    def __init__(self) -> None:
        self.epoch: str | None = None
        self._last: dict[tuple[str, str], int] = {}

    def advance(self, reading: Reading) -> dict[str, Usage]:
        """What each app was served since the last reading (apps served nothing left out).

        A new epoch (nginx restarted) or a counter below its last value (evicted from a
        full dict, then counted again from zero) counts the new value whole.
        """
        if reading.epoch != self.epoch:
            if self.epoch is not None:
                logger.info("nginx's counters restarted (epoch %s)", reading.epoch)
            self.epoch = reading.epoch
            self._last.clear()
        changed: dict[str, Usage] = {}
        for app, counters in reading.apps.items():
            deltas: dict[str, int] = {}
            for name, value in counters.items():
                last = self._last.get((app, name), 0)
                deltas[name] = value - last if value >= last else value
                self._last[(app, name)] = value
            usage = Usage.of(deltas)
            if usage.total or usage.response_bytes:
                changed[app] = usage
        return changed
