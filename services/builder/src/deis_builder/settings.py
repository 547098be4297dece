"""Settings of the builder, read once from `DEIS_*` environment variables."""

import os
from pathlib import Path

from pydantic import Field

from deis_shared.sandbox import UidTable
from deis_shared.settings import ServiceSettings, default_data_dir


class BuilderSettings(ServiceSettings):
    """The builder's own fields on top of the shared ones."""

    service_name: str = "builder"
    """Name in logs and NATS connection names."""

    ssh_host: str = "0.0.0.0"
    """Address the SSH server listens on."""

    ssh_port: int = Field(default=2222, ge=0, le=65535)
    """Port of the SSH server (`git push ssh://git@host:2222/<app>.git`); 0 picks a free one."""

    data_dir: Path = Field(default_factory=lambda: default_data_dir() / "builder")
    """The builder's volume: host key, bare repos, build caches, scratch space."""

    host_key_path: Path | None = None
    """SSH host key (OpenSSH format); unset means `<data_dir>/ssh_host_ed25519_key`, created
    on first start and kept, so clients' `known_hosts` stay valid across restarts."""

    python: str | None = None
    """Interpreter that installs Python apps' dependencies and runs them: a command on the
    sandbox's PATH or a path, under `/usr` either way (the only system tree builds and apps
    see); unset means the first `python3` there that has pip."""

    build_env: dict[str, str] = Field(default_factory=dict)
    """Extra environment of build commands, as a JSON object: a package mirror for pip or npm
    (`{"PIP_INDEX_URL": "https://mirror/simple"}`), a proxy. Builds get nothing else of the
    builder's environment but the locale and time zone."""

    build_uid_first: int = Field(default=300_000, gt=0)
    """The first user id given to an app's builds; each app gets one of its own, kept in
    `<data_dir>/build-uids.json` (used when the builder runs as root). Apart from the
    scheduler's range (200000 on), so that a build never shares an id with running apps."""

    build_uid_count: int = Field(default=100_000, gt=0)
    """How many user ids builds may be given, from `build_uid_first` on."""

    build_max_processes: int = Field(default=2048, ge=16)
    """Processes and threads one app's build may have at once (its user id's `RLIMIT_NPROC`):
    pip and npm with their compilers fit many times over; a fork bomb stalls there."""

    build_timeout: float = Field(default=900.0, gt=0)
    """Seconds a build may run before it is stopped and the push rejected (15 min)."""

    build_output_limit: int = Field(default=4 * 1024 * 1024, ge=1024)
    """Bytes of build output sent to the user; beyond it lines are dropped with one notice."""

    push_lock_wait: float = Field(default=300.0, ge=0)
    """Seconds a push waits for another push to the same app to finish before it is refused."""

    deploy_timeout: float = Field(default=600.0, gt=0)
    """Seconds the push waits for the release to be created and rolled out after the build."""

    route_wait: float = Field(default=5.0, ge=0)
    """Seconds a push waits, after its release is rolled out, for the router to serve it
    before saying "done" (so that a request right after the push meets the new release)."""

    rpc_timeout: float = Field(default=5.0, gt=0)
    """Seconds to wait for the controller's key and authorize answers."""

    platform_domain: str = "localhost"
    """Apps are served at `<app>.<platform_domain>`: the URL printed when a push is done."""

    router_url_port: int | None = Field(default=8080, ge=1, le=65535)
    """Port in the printed app URL (`http://<app>.localhost:8080`); unset prints none (:80)."""

    @property
    def host_key(self) -> Path:
        """Where the host key lives."""
        return self.host_key_path or self.data_dir / "ssh_host_ed25519_key"

    def app_url(self, app: str) -> str:
        """The URL the router serves `app` at, as printed at the end of a push."""
        port = "" if self.router_url_port in (None, 80) else f":{self.router_url_port}"
        return f"http://{app}.{self.platform_domain}{port}"


def build_uids(settings: BuilderSettings) -> UidTable | None:
    """The user ids of builds when the builder is root; None: they run as the builder's own."""
    if os.geteuid() != 0:
        return None
    return UidTable(
        settings.data_dir / "build-uids.json",
        first=settings.build_uid_first,
        count=settings.build_uid_count,
    )


def git_environment() -> dict[str, str]:
    """The environment of git, which the builder runs on its repositories, outside any sandbox.

    The builder's own environment minus `DEIS_*`: git needs its PATH and nothing of the
    platform's settings and secrets.
    """
    return {k: v for k, v in os.environ.items() if not k.startswith("DEIS_")}


def build_environment() -> dict[str, str]:
    """What build commands get of the builder's environment: the locale and time zone only.

    Nothing of the platform (credentials, URLs of its servers, the operator's shell): the
    build's sandbox adds its own PATH and HOME, the buildpack its variables, and the operator
    `build_env`.
    """
    keep = ("LANG", "LC_ALL", "TZ")
    return {name: os.environ[name] for name in keep if name in os.environ}
