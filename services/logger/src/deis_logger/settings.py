"""Settings of the logger, read once from `DEIS_*` environment variables."""

from pathlib import Path

from pydantic import Field, SecretStr

from deis_shared.bus import topology
from deis_shared.settings import ServiceSettings, default_data_dir


class LoggerSettings(ServiceSettings):
    """The logger's own fields on top of the shared ones."""

    service_name: str = "logger"
    """Name in logs and NATS connection names."""

    data_dir: Path = Field(default_factory=lambda: default_data_dir() / "logger")
    """The archive spool: lines of the current hours, per app, until uploaded."""

    max_lines_per_app: int = Field(default=topology.LOGS_MAX_PER_SUBJECT, ge=1, le=1_000_000)
    """Lines the `LOGS` stream keeps per app (its per-subject limit); older ones are dropped
    from the stream (they stay in the archive). Only the logger sets it on the stream."""

    max_age: float = Field(default=topology.LOGS_MAX_AGE, gt=0)
    """Seconds the `LOGS` stream keeps a line, whatever the per-app count."""

    archive: bool = True
    """Whether lines are archived to the object store (`logs/<app>/<yyyy>/<mm>/<dd>/<hh>.log.gz`);
    without an object store (`object_store=none`) they are not, whatever this says."""

    archive_grace: float = Field(default=300.0, ge=0)
    """Seconds after an hour ends before its spool is uploaded: lines written in the hour may
    reach the bus late (a shipper waiting for NATS). Later ones still reach the archive, as
    another gzip member of the same object."""

    archive_check_interval: float = Field(default=30.0, gt=0)
    """Seconds between looks for closed hours to upload."""

    archive_batch: int = Field(default=5000, ge=1, le=100_000)
    """Lines fetched, spooled and acknowledged together by the archiver; one sync per app
    and hour per batch, so bigger batches sync less per line (a batch is ~1 MB of lines)."""

    archive_poll: float = Field(default=1.0, gt=0)
    """Seconds the archiver waits for new lines at most; a stop or a purge waits as long."""

    ingest_host: str = "127.0.0.1"
    """Address of the Fluent Bit ingest endpoint (`POST /v1/ingest/fluentbit`, `ingesting`);
    `0.0.0.0` inside a pod, with `ingest_token` set."""

    ingest_port: int | None = Field(default=None, ge=0, le=65535)
    """Port of the ingest endpoint; unset serves none (the default: off Kubernetes the
    scheduler ships the lines), 0 picks a free one."""

    ingest_token: SecretStr | None = None
    """Shared secret the ingest endpoint asks for as `Authorization: Bearer <token>` (Fluent
    Bit's `header Authorization Bearer <token>`); unset asks for none."""

    ingest_max_body: int = Field(default=8 * 1024 * 1024, ge=1024)
    """Bytes of one request body at most, as sent and once gunzipped; larger bodies are
    answered 413. Fluent Bit's chunks are about 2 MB of records before JSON."""

    ingest_publish_timeout: float = Field(default=5.0, gt=0)
    """Seconds the endpoint waits for NATS to acknowledge a batch's lines before it answers
    503 (Fluent Bit sends the batch again; the lines' ids keep it from being stored twice)."""
