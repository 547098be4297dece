"""Where an app's last N lines start in `LOGS`, without reading the whole stream or app.

1. Stream info filtered on the app's subject gives its line count C, counted by the server
   from its per-subject index (one request, ~0.5 ms). C = 0: nothing yet (a follower starts
   after the stream's last sequence). C <= N: the start is the app's first line.
2. Otherwise the sequences of the app's first and last lines (two message gets) give how
   densely its lines are spread among the other apps', and the start is guessed where about
   `1.25 N` of them should remain. `logreading.LogReader` creates its consumer there; the
   create reply carries the consumer's `num_pending`, so the guess is checked for free, and a
   guess holding fewer than N lines is doubled back and the consumer made again.

A binary search with probe consumers was measured first: a consumer's create reply costs time
in proportion to the lines it counts (~6 ms for 5,000 of one app among 200,000 lines), so the
~17 probes of a search cost ~100 ms; one well-placed create near the end costs ~1 ms.
"""

import math
from dataclasses import dataclass

import nats.errors
import nats.js
import nats.js.errors

from deis_shared.bus import errors
from deis_shared.events import logs

SURPLUS = 1.25
"""How many more lines than asked the guessed start aims to hold, against uneven spreads."""


@dataclass(frozen=True, slots=True)
class Start:
    """Where to read an app's log from, as found by `find_start`."""

    seq: int
    """Stream sequence of the first message to ask for (the server skips other apps')."""
    last: int
    """Stream sequence of the app's last line when looked up; 0 for none."""
    count: int
    """The app's lines in the stream when looked up."""


async def find_start(
    js: nats.js.JetStreamContext, *, app: str, lines: int, stream: str = logs.STREAM
) -> Start:
    """Find a stream sequence from which at least the app's last `lines` lines remain.

    Args:
        js: The JetStream context.
        app: The app name; validated.
        lines: How many of its last lines are wanted, at least 1.
        stream: The log stream.

    Returns:
        The guess: at or before the app's last `lines` lines when its lines are evenly
        spread; `LogReader` checks it and goes further back when needed.

    Raises:
        InvalidAppName: `app` is not a valid app name.
        BusUnavailable: The server did not answer.
    """
    subject = logs.subject(app)
    try:
        info = await js.stream_info(stream, subjects_filter=subject)
        count = (info.state.subjects or {}).get(subject, 0)
        if count == 0:
            return Start(seq=info.state.last_seq + 1, last=0, count=0)
        last = (await js.get_msg(stream, subject=subject)).seq or 0
        if count <= lines:
            return Start(seq=1, last=last, count=count)
        first_seq = max(1, info.state.first_seq)
        first = (await js.get_msg(stream, seq=first_seq, subject=subject, next=True)).seq or 1
    except nats.js.errors.NotFoundError:
        return Start(seq=1, last=0, count=0)  # no stream yet, or the app's lines just went
    except (nats.errors.Error, TimeoutError, OSError) as exc:
        raise errors.translate(exc, context=f"find the log tail of {app}") from exc
    spread = (last - first + 1) / count
    return Start(
        seq=max(first, last - math.ceil(lines * SURPLUS * spread) + 1), last=last, count=count
    )
