"""Reading an app's request metrics back from `METRICS`: every message stored since a time.

The controller answers `GET /v2/apps/<app>/metrics` from what the routers published
(`events.metrics`). `read_requests` creates one ephemeral push consumer filtered on
`deis.metrics.requests.<app>`, delivering from the first message the stream stored at or after
`since`. Its create reply says how many messages it holds; reading ends with the delivery that
has no message pending after it, so a reading ends even while routers go on publishing.

The consumer is `ordered.OrderedConsumer`, as `logreading.LogReader`'s is: no acks, idle
heartbeats; a skipped consumer sequence, a client reconnect or silence for three heartbeats
makes it recreate itself from the stream sequence after the last message read.
Unlike a log reader it asks for no flow control: the controller's NATS user may not answer
`$JS.FC.METRICS.>` (`permissions`), and a day of one app's messages (a few per router and
minute, a few hundred bytes each) fits well within the client's pending limits.

A message that does not validate is skipped with a log line: a chart with a gap beats none.
"""

import asyncio
import logging
from datetime import datetime

import nats.aio.client
import nats.js

from deis_shared import wire
from deis_shared.bus import errors, ordered
from deis_shared.events import metrics

logger = logging.getLogger(__name__)


async def read_requests(
    *,
    js: nats.js.JetStreamContext,
    nc: nats.aio.client.Client,
    app: str,
    since: datetime,
    max_seconds: float = 30.0,
    heartbeat: float = 1.0,
    stream: str = metrics.STREAM,
) -> list[metrics.RequestMetrics]:
    """The app's request metrics stored at or after `since`, in the order stored.

    Args:
        js: The JetStream context.
        nc: The client behind `js`.
        app: The app name; validated.
        since: The earliest store time read (timezone-aware).
        max_seconds: Seconds the whole reading may take.
        heartbeat: Seconds between the server's idle heartbeats.
        stream: The metrics stream.

    Returns:
        Every valid message; none when the stream holds none of the app's (or does not exist).

    Raises:
        InvalidAppName: `app` is not a valid app name.
        BusUnavailable: The server did not answer, or the reading took longer than `max_seconds`.
        ServerRejected: JetStream refused the consumer.
    """
    consumer = ordered.OrderedConsumer(
        js=js,
        nc=nc,
        stream=stream,
        subjects=metrics.requests_subject(app),
        start=ordered.Start.at_time(since),
        context=f"read the metrics of {app}",
        until_caught_up=True,
        heartbeat=heartbeat,
    )
    read: list[metrics.RequestMetrics] = []
    try:
        async with asyncio.timeout(max_seconds):
            async for message in consumer:
                try:
                    read.append(wire.decode(message.data, metrics.RequestMetrics))
                except wire.InvalidPayload as exc:
                    logger.warning(
                        "skipped request metrics of %s (seq %d): %s", app, message.stream_seq, exc
                    )
    except ordered.NoStream:
        pass  # no stream yet: no (more) metrics
    except TimeoutError as exc:
        raise errors.BusUnavailable(f"read the request metrics of {app}: timed out") from exc
    finally:
        await consumer.close()
    return read
