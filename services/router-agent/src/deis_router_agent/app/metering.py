"""Per-app request metrics: read nginx's counters every interval, export and publish them.

Every `metrics_interval` seconds the meter reads the counters nginx keeps per app
(`domain.metering`, through the agent-only socket) and takes what changed since the last
reading. Those deltas

- add up into the agent's own totals, which the agent's `/metrics` serves as Prometheus
  metrics (`RequestCollector`): `deis_router_requests_total{app,status_class}`,
  `deis_router_request_duration_seconds{app}` (a histogram over `LATENCY_BUCKETS`; its sum
  adds nginx's `$request_time`, which has millisecond resolution) and
  `deis_router_response_bytes_total{app}`. The totals are the agent's, not nginx's, so an
  nginx restart does not make a counter go down;
- are published, one `RequestMetrics` per app that had requests, on
  `deis.metrics.requests.<app>`: deltas, so that several routers' messages add up. A publish
  that fails (NATS away) is logged and dropped: a lost interval leaves a gap in a chart, and
  nginx's counters are read on regardless.

A reading that fails (nginx restarting) is skipped: the next one covers both intervals.

The first reading, taken as the meter starts, is only a baseline: an nginx the agent adopted
(left running by an earlier agent) counted before this agent, and that agent published what it
read. So a restarted agent neither publishes those counts again nor starts its totals with
them; what nginx served between the earlier agent's last reading and this baseline is a gap.
"""

import asyncio
import logging
from collections.abc import Iterator
from datetime import UTC, datetime

from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from deis_router_agent.app.context import Context
from deis_router_agent.domain import metering
from deis_router_agent.errors import NginxFailed
from deis_router_agent.nginx import counters
from deis_shared import errors
from deis_shared.bus import publishing
from deis_shared.events import metrics as metrics_events

logger = logging.getLogger(__name__)


class Meter:
    """Reads nginx's counters, keeps the agent's totals, publishes each interval's deltas."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._counters = metering.Counters()
        self._since = datetime.now(UTC)
        self.totals: dict[str, metering.Usage] = {}
        """Per app, what it was served since the agent started."""
        self.readings = 0
        """Readings of nginx's counters taken (tests wait on it)."""

    async def run(self) -> None:
        """Read, export and publish every `metrics_interval`; runs until cancelled."""
        await self.read()  # the baseline
        while True:
            await asyncio.sleep(self._ctx.settings.metrics_interval)
            await self.read()

    async def read(self) -> list[metrics_events.RequestMetrics]:
        """Take one reading: add it to the totals, publish it; the messages published."""
        ctx = self._ctx
        try:
            text = await counters.read(ctx.layout.socket, seconds=ctx.settings.reload_timeout)
        except NginxFailed as error:
            logger.warning("no request metrics this interval: %s", error)
            return []
        now = datetime.now(UTC)
        reading = metering.parse(text)
        if reading is None:
            return []
        changed = self._counters.advance(reading)
        start, self._since = self._since, now
        self.readings += 1
        if self.readings == 1:
            return []  # the baseline: counted before this agent, if it adopted nginx
        seconds = max((now - start).total_seconds(), 0.001)
        messages = []
        for app, usage in sorted(changed.items()):
            self.totals.setdefault(app, metering.Usage()).add(usage)
            if usage.total:
                messages.append(
                    metrics_events.RequestMetrics(
                        agent=ctx.settings.agent_name,
                        app=app,
                        start=start,
                        seconds=seconds,
                        requests=usage.requests,
                        response_bytes=usage.response_bytes,
                        latency=usage.latency,
                    )
                )
        await self._publish(messages)
        return messages

    async def _publish(self, messages: list[metrics_events.RequestMetrics]) -> None:
        if not messages:
            return
        outgoing = [
            publishing.Outgoing(
                subject=metrics_events.requests_subject(message.app),
                data=message,
                msg_id=str(message.id),
            )
            for message in messages
        ]
        try:
            await publishing.publish_many(self._ctx.js, messages=outgoing)
        except errors.DeisError as error:
            logger.warning("could not publish request metrics of %d apps: %s", len(outgoing), error)


class RequestCollector(Collector):
    """The meter's totals as Prometheus metrics, made at each scrape."""

    def __init__(self, meter: Meter) -> None:
        self._meter = meter

    def collect(self) -> Iterator[Metric]:
        """The three metric families, one series per app (and status class)."""
        requests = CounterMetricFamily(
            "deis_router_requests",
            "Responses nginx sent for an app, by status class",
            labels=["app", "status_class"],
        )
        duration = HistogramMetricFamily(
            "deis_router_request_duration_seconds",
            "Time nginx took to answer an app's requests ($request_time)",
            labels=["app"],
        )
        sent = CounterMetricFamily(
            "deis_router_response_bytes",
            "Bytes nginx sent to an app's clients, headers included",
            labels=["app"],
        )
        bounds = [*(repr(bound) for bound in metrics_events.LATENCY_BUCKETS), "+Inf"]
        for app, usage in sorted(self._meter.totals.items()):
            for status_class in metrics_events.STATUS_CLASSES:
                requests.add_metric([app, status_class], usage.requests.get(status_class, 0))
            cumulative, buckets = 0, []
            for bound, count in zip(bounds, usage.latency, strict=True):
                cumulative += count
                buckets.append((bound, float(cumulative)))
            duration.add_metric([app], buckets, sum_value=usage.milliseconds / 1000)
            sent.add_metric([app], usage.response_bytes)
        yield requests
        yield duration
        yield sent
