"""Settings every service shares, read once from `DEIS_*` environment variables.

Each service subclasses `ServiceSettings`, adds its own fields, builds one instance in `main()`
and passes it down; nothing else reads the environment. Every field says its unit.
"""

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDER_SECRETS = frozenset({"", "changeme", "change-me", "secret", "password", "testing"})
"""Secret values that are only acceptable in development."""


def default_data_dir() -> Path:
    """The embedded platform's data directory, `~/.local/share/deis`."""
    return Path.home() / ".local" / "share" / "deis"


class ServiceSettings(BaseSettings):
    """Fields every service shares: environment, logging, NATS, Postgres, object store, health."""

    model_config = SettingsConfigDict(
        env_prefix="DEIS_", extra="ignore", frozen=True, use_attribute_docstrings=True
    )

    service_name: str = "deis"
    """Name in logs, metrics and NATS connection names; each service sets its own default."""

    environment: Literal["development", "production"] = "development"
    """`production` refuses placeholder secrets."""

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    """Lowest level written to stderr."""

    log_json: bool | None = None
    """One JSON object per line; unset means JSON unless stderr is a terminal."""

    nats_url: str = "nats://127.0.0.1:4222"
    """NATS server URL(s), comma-separated."""

    nats_connect_timeout: float = Field(default=5.0, gt=0)
    """Seconds to wait for the first connection before start-up fails."""

    database_url: str | None = None
    """PostgreSQL URL (`postgresql://user@host:port/db`); unset for services without tables."""

    db_pool_min_size: int = Field(default=1, ge=0)
    """Connections the pool keeps open while idle."""

    db_pool_max_size: int = Field(default=10, ge=1)
    """Connections the pool opens at most."""

    object_store: Literal["filesystem", "s3", "none"] = "filesystem"
    """Backend for sources, slugs and log archives; `none` for services that store nothing."""

    object_store_root: Path = Field(default_factory=lambda: default_data_dir() / "objects")
    """Directory of the filesystem backend."""

    s3_endpoint_url: str | None = None
    """S3 endpoint (MinIO, Ceph RGW, moto); unset means AWS."""

    s3_bucket: str = "deis"
    """Bucket holding every object; created at start-up if missing."""

    s3_region: str = "us-east-1"
    """S3 region name."""

    s3_access_key_id: SecretStr | None = None
    """S3 access key; unset means the default AWS credential chain."""

    s3_secret_access_key: SecretStr | None = None
    """S3 secret key; unset means the default AWS credential chain."""

    health_host: str = "127.0.0.1"
    """Address of the `/healthz`, `/readyz` and `/metrics` listener."""

    health_port: int | None = Field(default=None, ge=0, le=65535)
    """Port of that listener; 0 picks a free one, unset serves none (HTTP services mount it)."""

    outbox_max_attempts: int = Field(default=8, ge=1)
    """Failed publishes of an outbox row, each its own fault (not NATS being away), before the
    relay sets it aside as dead so that it stops holding back the changes behind it."""

    jetstream_replicas: int = Field(default=1, ge=1, le=5)
    """Servers of a NATS cluster holding each stream and KV bucket: 1 for one server, 3 for a
    cluster that keeps every acknowledged message through the loss of one (the Helm chart's)."""

    startup_wait: float = Field(default=60.0, ge=0)
    """Seconds a starting service keeps trying to reach PostgreSQL, NATS and the object store
    (compose starts them together; a server restarting meanwhile is waited for). Refused
    credentials end the start at once."""

    shutdown_timeout: float = Field(default=25.0, gt=0)
    """Seconds from SIGTERM to a forced exit: just below a container's 30 s grace period."""

    @model_validator(mode="after")
    def _refuse_placeholder_secrets(self) -> "ServiceSettings":
        if self.environment != "production":
            return self
        for name, field in type(self).model_fields.items():
            value = getattr(self, name)
            is_secret = field.annotation in (SecretStr, SecretStr | None) and value is not None
            if is_secret and value.get_secret_value().strip().lower() in PLACEHOLDER_SECRETS:
                raise ValueError(f"DEIS_{name.upper()} holds a placeholder secret")
        return self
