"""The NATS contract's streams and KV buckets (docs/architecture.md); making a server hold them.

`ensure_topology()` runs at every service start, so it must be idempotent and safe to race:
two services starting at once may both find a stream missing and both create it. Creating an
identical stream twice is accepted by the server; when a create loses a race against a
different configuration, the loop reads the stream again and updates it.

Who sets the `LOGS` limits: the logger alone. Every service calls `ensure_topology()` with no
log limits at its start (the service runner does), and then `LOGS` is only created, with the
defaults, when it is missing; an existing `LOGS` is left as it is. The logger passes its own
settings, and only then is the stream updated to match. Otherwise each service start would
reset the limits the operator gave the logger, and two services with different ideas would
rewrite the stream back and forth. The other streams and buckets have one fixed shape and are
always made to match it.
"""

import logging

import nats.errors
import nats.js
import nats.js.api
import nats.js.errors

from deis_shared.bus import errors

logger = logging.getLogger(__name__)

EVENTS_STREAM = "EVENTS"
EVENTS_SUBJECTS = ("deis.events.>",)
EVENTS_DUPLICATE_WINDOW = 120.0
"""Seconds during which a repeated `Nats-Msg-Id` is dropped (the outbox relay relies on it)."""

LOGS_STREAM = "LOGS"
LOGS_SUBJECTS = ("deis.logs.>",)
LOGS_MAX_PER_SUBJECT = 10_000
LOGS_MAX_AGE = 7 * 86400.0

BUCKET_HISTORY = {
    "desired": 5,
    "routes": 1,
    "endpoints": 1,
    "procs": 1,
    "routers": 1,
    "challenges": 1,
}
"""KV buckets and how many revisions each keeps (`desired` keeps a few for debugging)."""

BUCKET_MAX_AGE = {"routers": 86400.0, "challenges": 86400.0}
"""KV buckets whose keys expire this many seconds after their last put (others: never)."""

METRICS_STREAM = "METRICS"
METRICS_SUBJECTS = ("deis.metrics.>",)
METRICS_MAX_AGE = 86400.0
METRICS_MAX_PER_SUBJECT = 100_000

_ATTEMPTS = 3


def events_stream_config(*, replicas: int = 1) -> nats.js.api.StreamConfig:
    """The `EVENTS` stream: durable facts, de-duplicated by `Nats-Msg-Id` for two minutes."""
    return nats.js.api.StreamConfig(
        name=EVENTS_STREAM,
        subjects=list(EVENTS_SUBJECTS),
        storage=nats.js.api.StorageType.FILE,
        duplicate_window=EVENTS_DUPLICATE_WINDOW,
        num_replicas=replicas,
    )


def logs_stream_config(
    *, max_per_subject: int, max_age: float, replicas: int = 1
) -> nats.js.api.StreamConfig:
    """The `LOGS` stream: one ring buffer of `max_per_subject` lines per app subject."""
    return nats.js.api.StreamConfig(
        name=LOGS_STREAM,
        subjects=list(LOGS_SUBJECTS),
        storage=nats.js.api.StorageType.FILE,
        max_msgs_per_subject=max_per_subject,
        max_age=max_age,
        num_replicas=replicas,
    )


def bucket_stream(bucket: str) -> str:
    """The name of the stream behind KV bucket `bucket`: `KV_<bucket>`, as nats-py names it."""
    return f"KV_{bucket}"


def bucket_subjects(bucket: str) -> str:
    """The subjects of KV bucket `bucket`: `$KV.<bucket>.>`, one subject per key."""
    return f"$KV.{bucket}.>"


def metrics_stream_config(*, replicas: int = 1) -> nats.js.api.StreamConfig:
    """The `METRICS` stream: routers' request counts per app, kept for a day."""
    return nats.js.api.StreamConfig(
        name=METRICS_STREAM,
        subjects=list(METRICS_SUBJECTS),
        storage=nats.js.api.StorageType.FILE,
        max_msgs_per_subject=METRICS_MAX_PER_SUBJECT,
        max_age=METRICS_MAX_AGE,
        num_replicas=replicas,
    )


def bucket_stream_config(
    *, name: str, history: int, replicas: int = 1, max_age: float = 0.0
) -> nats.js.api.StreamConfig:
    """The stream behind KV bucket `name`, shaped as nats-py's `create_key_value` makes it.

    `max_age`: seconds a key outlives its last put (0: for ever).
    """
    return nats.js.api.StreamConfig(
        name=bucket_stream(name),
        subjects=[bucket_subjects(name)],
        storage=nats.js.api.StorageType.FILE,
        max_msgs_per_subject=history,
        allow_rollup_hdrs=True,
        deny_delete=True,
        allow_direct=True,
        discard=nats.js.api.DiscardPolicy.NEW,
        duplicate_window=120.0,
        max_msgs=-1,
        max_consumers=-1,
        max_age=max_age or None,
        num_replicas=replicas,
    )


def _differences(
    *, desired: nats.js.api.StreamConfig, current: nats.js.api.StreamConfig
) -> list[str]:
    want = desired.as_dict()
    have = current.as_dict()
    # nats-py sends duplicate_window=0 to mean "server default" (2 minutes); not a difference.
    if want.get("duplicate_window") == 0:
        want.pop("duplicate_window")
    return sorted(k for k, v in want.items() if have.get(k) != v)


async def ensure_stream(
    js: nats.js.JetStreamContext, *, config: nats.js.api.StreamConfig, update: bool = True
) -> None:
    """Create the stream, or update it where it differs from `config`; idempotent.

    Only the fields set in `config` are compared, so server defaults do not cause updates.

    Args:
        js: The JetStream context.
        config: The wanted configuration (with `name`).
        update: Whether an existing stream that differs is updated; False only creates a
            missing stream and leaves an existing one as it is.

    Raises:
        ServerRejected: The server refused the configuration (e.g. a storage change).
        BusUnavailable: The server did not answer.
    """
    name = config.name
    if name is None:
        raise ValueError("a stream config needs a name")
    context = f"ensure stream {name}"
    for _ in range(_ATTEMPTS):
        try:
            try:
                info = await js.stream_info(name)
            except nats.js.errors.NotFoundError:
                try:
                    await js.add_stream(config)
                    logger.info("created stream %s", name)
                    return
                except nats.js.errors.BadRequestError:
                    continue  # lost a creation race to another config: read it and update
            diff = _differences(desired=config, current=info.config)
            if not diff:
                return
            if not update:
                logger.debug("stream %s differs (%s); left as it is", name, ", ".join(diff))
                return
            await js.update_stream(config)
            logger.info("updated stream %s: %s", name, ", ".join(diff))
            return
        except nats.js.errors.NotFoundError:
            continue  # deleted under us: start over
        except (nats.errors.Error, TimeoutError, OSError) as exc:
            raise errors.translate(exc, context=context) from exc
    raise errors.ServerRejected(f"{context}: did not settle after {_ATTEMPTS} attempts")


async def ensure_bucket(
    js: nats.js.JetStreamContext, *, name: str, history: int = 1, replicas: int = 1
) -> None:
    """Create KV bucket `name` (file storage) or fix its history; idempotent.

    Args:
        js: The JetStream context.
        name: The bucket name.
        history: Revisions kept per key.
        replicas: Servers of a cluster holding the bucket.

    Raises:
        ServerRejected: The server refused the configuration.
        BusUnavailable: The server did not answer.
    """
    config = bucket_stream_config(
        name=name, history=history, replicas=replicas, max_age=BUCKET_MAX_AGE.get(name, 0.0)
    )
    await ensure_stream(js, config=config)


async def ensure_topology(
    js: nats.js.JetStreamContext,
    *,
    logs_max_per_subject: int | None = None,
    logs_max_age: float | None = None,
    replicas: int = 1,
) -> None:
    """Make the server hold the streams and buckets of the NATS contract; idempotent and race-safe.

    Without log limits (every service but the logger), `LOGS` is created with the defaults
    when missing and otherwise left as it is; with them, it is made to match (see the module
    docstring).

    Args:
        js: The JetStream context.
        logs_max_per_subject: Lines kept per app in `LOGS` (None: `LOGS_MAX_PER_SUBJECT`).
        logs_max_age: Seconds a log line is kept (None: `LOGS_MAX_AGE`). Give either limit
            to make an existing `LOGS` match both; give neither to leave it as it is.
        replicas: Servers of a cluster holding each stream and bucket (the services'
            `jetstream_replicas`); a stream with another count is changed to it (`LOGS`
            only by the logger, which gives the limits).

    Raises:
        ServerRejected: The server refused a configuration.
        BusUnavailable: The server did not answer.
    """
    await ensure_stream(js, config=events_stream_config(replicas=replicas))
    enforce_logs = logs_max_per_subject is not None or logs_max_age is not None
    per_subject = LOGS_MAX_PER_SUBJECT if logs_max_per_subject is None else logs_max_per_subject
    max_age = LOGS_MAX_AGE if logs_max_age is None else logs_max_age
    logs_config = logs_stream_config(
        max_per_subject=per_subject, max_age=max_age, replicas=replicas
    )
    await ensure_stream(js, config=logs_config, update=enforce_logs)
    await ensure_stream(js, config=metrics_stream_config(replicas=replicas))
    for bucket, history in BUCKET_HISTORY.items():
        await ensure_bucket(js, name=bucket, history=history, replicas=replicas)
