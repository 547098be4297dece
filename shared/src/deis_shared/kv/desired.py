"""KV bucket `desired`, key `<app>`: everything the scheduler needs to run an app's release.

Written by the controller (through its outbox) whenever a release, the formation or the app
settings change; watched by the scheduler, which converges the running processes on it. The
controller resolves Deis's indirections before writing, so readers need no controller logic:
the `web/cmd` healthcheck fallback is copied to the types it applies to, config values are
strings, and `port` is decided (buildpack apps: 5000, else `PORT` from the config).

The value carries `registry` credentials and the app's whole environment: treat the bucket as
secret (the Kubernetes backend puts `config` into a Secret, not a ConfigMap).
"""

from typing import Annotated, Final, Literal
from uuid import UUID

from pydantic import AfterValidator, Field

from deis_shared import appnames, limits, wire
from deis_shared.kv import bucket

BUCKET = "desired"
"""Name of the KV bucket."""

ConfigKey = Annotated[str, Field(pattern=r"(?i)^[a-z_]+[a-z0-9_]*$")]
"""An environment variable name as Deis accepts it."""

MemoryLimit = Annotated[
    str, Field(pattern=limits.MEMORY_PATTERN), AfterValidator(limits.check_memory)
]
"""A memory value as `deis_shared.limits` defines it."""

CpuLimit = Annotated[str, Field(pattern=limits.CPU_PATTERN), AfterValidator(limits.check_cpu)]
"""A CPU value as `deis_shared.limits` defines it."""


def key(app: str) -> str:
    """Key of an app's desired state.

    Args:
        app: The app name; validated.

    Returns:
        The app name itself.

    Raises:
        InvalidAppName: `app` is not a valid app name.
    """
    return appnames.validate_app_name(app)


class ExecAction(wire.Part):
    """Probe by running a command inside the process's environment; exit 0 is healthy."""

    command: list[str] = Field(min_length=1)


class HttpHeader(wire.Part):
    """One header sent with an HTTP probe."""

    name: str
    value: str


class HttpGetAction(wire.Part):
    """Probe by HTTP GET; a 2xx or 3xx status is healthy."""

    port: int = Field(ge=1, le=65535)
    path: str | None = None
    host: str | None = None
    scheme: Literal["HTTP", "HTTPS"] | None = None
    http_headers: list[HttpHeader] = Field(default_factory=list, alias="httpHeaders")


class TcpSocketAction(wire.Part):
    """Probe by opening a TCP connection."""

    port: int = Field(ge=1, le=65535)


class Probe(wire.Part):
    """A Kubernetes-style probe, in the JSON form Deis's `healthcheck` config takes."""

    exec: ExecAction | None = None
    http_get: HttpGetAction | None = Field(default=None, alias="httpGet")
    tcp_socket: TcpSocketAction | None = Field(default=None, alias="tcpSocket")
    initial_delay_seconds: int | None = Field(default=None, ge=0, alias="initialDelaySeconds")
    timeout_seconds: int | None = Field(default=None, ge=1, alias="timeoutSeconds")
    period_seconds: int | None = Field(default=None, ge=1, alias="periodSeconds")
    success_threshold: int | None = Field(default=None, ge=1, alias="successThreshold")
    failure_threshold: int | None = Field(default=None, ge=1, alias="failureThreshold")


class Healthcheck(wire.Part):
    """The probes of one process type: liveness restarts it, readiness gates traffic."""

    liveness_probe: Probe | None = Field(default=None, alias="livenessProbe")
    readiness_probe: Probe | None = Field(default=None, alias="readinessProbe")


class Limits(wire.Part):
    """Resource limits per process type, as the strings Deis takes (`<limit>` or `<req>/<lim>`)."""

    memory: dict[wire.ProcessType, MemoryLimit] = Field(default_factory=dict)
    cpu: dict[wire.ProcessType, CpuLimit] = Field(default_factory=dict)


class Autoscale(wire.Part):
    """Horizontal autoscaling of one process type (Kubernetes backend only)."""

    min: int = Field(ge=0)
    max: int = Field(ge=1)
    cpu_percent: int = Field(ge=1, le=100)


class DesiredRelease(wire.Part):
    """The release to run; its facts become `WORKFLOW_RELEASE*` environment variables."""

    id: UUID
    version: int = Field(ge=1)
    summary: str
    created: wire.UtcDatetime


class DesiredBuild(wire.Part):
    """The slug to run. Only slug builds exist; an `image` field may be added without a bump."""

    id: UUID
    """The controller's Build uuid."""
    sha: str = Field(pattern=r"^[0-9a-f]{7,40}$")
    """Git sha; also `SOURCE_VERSION` in the environment."""
    slug_key: str = Field(min_length=1)
    """Object-store key of the slug tarball."""
    procfile: dict[wire.ProcessType, str]
    """Process type -> command."""


class DesiredImage(wire.Part):
    """A container image to run as it is (`deis pull`): only a Kubernetes backend can."""

    id: UUID
    """The controller's Build uuid."""
    image: str = Field(min_length=1, max_length=1024)
    """The image reference, as `docker pull` takes it."""
    sha: str = Field(default="", max_length=40)
    """What the user gave as the build's sha, if anything; `SOURCE_VERSION`."""
    procfile: dict[wire.ProcessType, str] = Field(default_factory=dict)
    """Process type -> command; empty runs the image's own command as type `cmd`."""


class DesiredState(wire.Message):
    """The whole desired state of one app. Absent key: the app does not exist (stop everything)."""

    schema_version: Literal[1] = Field(1, alias="schema")

    app: appnames.AppName
    release: DesiredRelease
    build: DesiredBuild | None
    """`None` until the first build (release v1), or for an image release: no slug runs."""
    image: DesiredImage | None = None
    """The image an image release runs (`build` is then `None`)."""
    formation: dict[wire.ProcessType, int]
    """Process type -> number of processes (`deis scale`); types missing or 0 do not run."""
    config: dict[ConfigKey, str] = Field(repr=False)
    """The app's environment as set by users (before `PORT`, `DEIS_APP`, ... are injected)."""
    limits: Limits = Field(default_factory=Limits)
    healthchecks: dict[wire.ProcessType, Healthcheck] = Field(default_factory=dict)
    """Per process type; a type without an entry gets no probes (the local backend waits for
    the port of a `web` process to accept connections instead)."""
    tags: dict[str, str] = Field(default_factory=dict)
    """Node labels the processes must be placed on (Kubernetes backend)."""
    registry: dict[str, str] = Field(default_factory=dict, repr=False)
    """Private registry credentials (`username`, `password`, `hostname`)."""
    port: int | None = Field(ge=1, le=65535)
    """Port the `web` process listens on (`PORT`); `None` for apps without a web process."""
    routable: bool
    """Whether `web`/`cmd` get endpoints; a non-routable app runs but is not served."""
    maintenance: bool
    """Maintenance mode: the router serves a 503 page; processes keep running."""
    autoscale: dict[wire.ProcessType, Autoscale] = Field(default_factory=dict)
    restarts: dict[str, int] = Field(default_factory=dict)
    """Restart requests (`deis ps:restart`): `*` for every process, a process type, or a
    process name, mapped to a counter the controller raises on each request. The scheduler
    restarts the matching processes when a counter is higher than the one it last acted on."""


SPEC: Final = bucket.Bucket(name=BUCKET, model=DesiredState, key=key)
"""The bucket as `deis_shared.bus.kv` reads and writes it."""
