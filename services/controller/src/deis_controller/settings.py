"""Settings of the controller, read once from `DEIS_*` environment variables."""

from typing import Literal

from pydantic import Field, SecretStr

from deis_shared.settings import ServiceSettings

API_VERSION = "2.3"
"""`DEIS_API_VERSION` on every response: the `deis` CLI checks it against its own (api.md §1.3)."""

PLATFORM_VERSION = "2.3.0"
"""`DEIS_PLATFORM_VERSION` on every response."""


class ControllerSettings(ServiceSettings):
    """The controller's own fields on top of the shared ones."""

    service_name: str = "controller"
    """Name in logs and NATS connection names."""

    object_store: Literal["filesystem", "s3", "none"] = "none"
    """The controller stores no objects."""

    api_host: str = "127.0.0.1"
    """Address the REST API listens on."""

    api_port: int = Field(default=8000, ge=0, le=65535)
    """Port of the REST API; 0 picks a free one."""

    platform_domain: str = "localhost"
    """Apps are served at `<app>.<platform_domain>`."""

    registration_mode: Literal["enabled", "disabled", "admin_only"] = "enabled"
    """Who may register: anyone, nobody, or admins only (anyone while no admin exists)."""

    reserved_names: list[str] = Field(default_factory=list)
    """App names nobody may create (comma-separated or a JSON list)."""

    builder_key: SecretStr = SecretStr("")
    """Shared secret the builder sends as `X-Deis-Builder-Auth` on `/v2/hooks/*`; empty
    disables the HTTP hooks (the builder of this platform uses NATS RPCs instead)."""

    password_time_cost: int = Field(default=2, ge=1)
    """argon2id iterations for password hashes."""

    password_memory_cost: int = Field(default=19_456, ge=8)
    """argon2id memory per hash, KiB (OWASP's minimum recommendation is 19 MiB)."""

    deploy_procfile_missing_remove: bool = True
    """Scale to 0 the process types absent from a new build's Procfile."""

    deploy_reject_if_procfile_missing: bool = False
    """Refuse a build without a Procfile after one with a Procfile (409)."""

    default_config_tags: dict[str, str] = Field(default_factory=dict)
    """Tags applied to a config that has none (JSON object)."""

    rpc_timeout: float = Field(default=5.0, gt=0)
    """Seconds to wait for the logger's or scheduler's answer to a quick RPC."""

    rollout_wait: float = Field(default=180.0, ge=0)
    """Seconds a request that makes a release (config, pull, rollback) waits for its rollout,
    and a scale or pods restart for its processes, before answering that it goes on (503); 0
    answers at once, without waiting."""

    route_wait: float = Field(default=5.0, ge=0)
    """Seconds, within `rollout_wait`, a rolled-out release waits for the router to serve it."""

    run_timeout: float = Field(default=300.0, gt=0)
    """Seconds a `deis run` process may take before the scheduler kills it."""

    follow_max_seconds: float = Field(default=3600.0, gt=0)
    """Longest a `logs?follow=true` stream stays open."""

    max_request_bytes: int = Field(default=1 << 20, ge=1024)
    """Largest request body taken, bytes; a larger one is refused with 413 before it is read."""

    max_config_bytes: int = Field(default=32 << 10, ge=1024)
    """Largest config of a release (values, limits, tags, registry and healthchecks, as JSON),
    bytes; Heroku caps an app's config vars at 32 KB."""

    max_processes_per_type: int = Field(default=100, ge=1)
    """Most processes `deis scale` may ask of one process type (Heroku's cap is 100)."""

    max_processes_per_app: int = Field(default=200, ge=1)
    """Most processes `deis scale` may ask of all process types of an app together."""

    max_run_command_bytes: int = Field(default=32 << 10, ge=64)
    """Longest `deis run` command, bytes (Linux refuses a single argument above 128 KiB)."""

    max_message_bytes: int | None = Field(default=None, ge=1024)
    """Largest value the controller writes to the bus (an app's desired state or routes),
    bytes. At start it is set from the NATS server's `max_payload`, less room for headers;
    a value set here caps it further. A change that would write more is refused with 400."""

    max_certificate_bytes: int = Field(default=64 << 10, ge=1024)
    """Longest `certificate` (a server certificate and its chain, PEM, ASCII only) a user may
    upload, bytes; refused with 400 before it is parsed. Real chains stay under 10 KiB."""

    max_certificate_key_bytes: int = Field(default=16 << 10, ge=1024)
    """Longest private `key` (PEM, ASCII only) a user may upload, bytes; refused with 400
    before it is parsed. An 8192-bit RSA key, the largest accepted, takes about 6.4 KiB."""

    acme_issuer: bool = True
    """Run the certificate issuer of automatic TLS in this controller. Replicas share the
    work safely (one pass at a time, by a database lock); off leaves it to others."""

    acme_directory: str = "https://acme-v02.api.letsencrypt.org/directory"
    """Directory URL of the ACME server that issues automatic TLS certificates (Let's
    Encrypt's by default; its staging directory, or a private server, for tests)."""

    acme_ca_bundle: str | None = None
    """A CA file (PEM) to trust when talking to the ACME server, for private or test servers;
    unset trusts the system's CAs."""

    acme_email: str | None = None
    """Contact address of the ACME account (expiry and policy mail); unset registers none."""

    acme_platform_domain_public: bool = False
    """Whether the ACME server can reach `<app>.<platform_domain>` (a public wildcard DNS
    record to the routers): then apps under automatic TLS get a certificate for their default
    domain too. Off, only their custom domains do."""

    acme_interval: float = Field(default=60.0, gt=0)
    """Seconds between two passes of the certificate issuer (it also runs when an app turns
    automatic TLS on or adds a domain)."""

    acme_order_timeout: float = Field(default=90.0, gt=0)
    """Seconds the issuer waits on one order (validation, then issuance) before leaving it
    to a later pass, which resumes the same order."""

    acme_backoff_min: float = Field(default=60.0, gt=0)
    """Seconds before the first retry of a domain whose issuance failed; doubled at each
    further failure."""

    acme_backoff_max: float = Field(default=86_400.0, gt=0)
    """Longest wait, seconds, between retries of a failing domain (a day)."""
