"""What `deisctl up` runs: the embedded servers and every service, with their settings.

Each service is `python -m deis_<service>.main` with `DEIS_*` variables: the data dir's part
that is its own, NATS and Postgres URLs, the object store, a health port that says when it is
ready. An external `--database-url`, `--nats-url` or `--s3-endpoint-url` replaces the embedded
part: that server is then neither started nor supervised. The operator's own settings of a
service (`tuning`: `--set`, `<data>/config/<service>.env`) go between what deisctl passes on
from its environment (`DEIS_S3_*`, `DEIS_BUILD_*`, no other `DEIS_*`) and its wiring, which
wins.

The scheduler is stopped with `SCHEDULER_STOP_APPS`, which takes the app processes along; when
it exits alone (a crash, a SIGTERM) they run on, and the scheduler started again adopts them.
The router agent likewise, with `ROUTER_STOP_NGINX` and its nginx.
"""

import os
import signal
import socket
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from deis_shared import sandbox
from deisctl import embedded, provisioning, secrets
from deisctl.errors import CtlError
from deisctl.layout import SERVICES, Layout, reachable_by
from deisctl.supervisor import Component

UNPRIVILEGED = "nobody"
"""A user with no rights of its own: what any other user id may reach, it may."""

SANDBOX_PYTHONS = ("/usr/bin/python3", "/usr/local/bin/python3")
"""Where a sandboxed build or app finds Python."""
"""Who app processes run as when the platform runs as root (if they can reach their files)."""


SCHEDULER_STOP_APPS = signal.SIGUSR1
"""Stops the scheduler and the app processes with it (a SIGTERM would leave them running)."""

ROUTER_STOP_NGINX = signal.SIGUSR1
"""Stops the router agent and its nginx with it (a SIGTERM would leave nginx running)."""


@dataclass(frozen=True)
class Options:
    """The operator's choices."""

    data_dir: Path
    api_port: int = 8000
    ssh_port: int = 2222
    http_port: int = 8080
    https_port: int = 8443
    platform_domain: str = "localhost"
    database_url: str | None = None
    nats_url: str | None = None
    s3_endpoint_url: str | None = None
    s3_bucket: str = "deis"
    service_settings: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    """Each service's own `DEIS_*` settings, checked (`tuning.settings`); never deisctl's
    wiring, which is applied over them."""


@dataclass(frozen=True)
class Plan:
    """The processes to run, and what the operator is told about them."""

    components: list[Component]
    urls: dict[str, str]
    warnings: list[str]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def accepts(port: int) -> bool:
    """Whether something accepts TCP connections on 127.0.0.1:`port`."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def health_ready(port: int) -> bool:
    """Whether the service behind health port `port` says it is ready."""
    try:
        return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


def make_plan(options: Options, layout: Layout, *, environ: Mapping[str, str]) -> Plan:
    """Everything `up` starts, in order.

    Raises:
        CtlError: PostgreSQL or nats-server is needed and missing.
    """
    components: list[Component] = []
    warnings: list[str] = []
    database_urls = dict.fromkeys(provisioning.SERVICE_SCHEMAS, options.database_url or "")
    if options.database_url is None:
        bindir = embedded.postgres_bindir()
        user = embedded.postgres_user()
        if user is not None and not reachable_by(layout.root, user):
            raise CtlError(
                f"PostgreSQL runs as {user}, who cannot reach {layout.root}: a directory above"
                " it is closed to others (root's home, say); choose a --data-dir such as"
                " /var/lib/deis, or give --database-url"
            )
        superuser = secrets.secret(layout.secrets, "postgres")
        passwords = {
            service: secrets.secret(layout.secrets, f"postgres-{service}")
            for service in provisioning.SERVICE_SCHEMAS
        }
        embedded.init_postgres(layout.postgres, bindir=bindir, user=user, password=superuser)
        pg_port = free_port()
        database_urls = {
            service: provisioning.dsn(
                port=pg_port, user=provisioning.role(service), password=password
            )
            for service, password in passwords.items()
        }

        def postgres_ready() -> bool:
            if not embedded.postgres_ready(bindir=bindir, port=pg_port):
                return False
            provisioning.provision(
                port=pg_port,
                data=layout.postgres / "data",
                superuser_password=superuser,
                passwords=passwords,
            )
            return True

        components.append(
            Component(
                name="postgres",
                command=embedded.postgres_command(layout.postgres, bindir=bindir, port=pg_port),
                env={"PATH": environ.get("PATH", os.defpath), "LANG": "C.UTF-8"},
                ready=postgres_ready,
                log=layout.log("postgres"),
                user=user,
                cwd=layout.postgres,
                stop_signal=embedded.FAST_SHUTDOWN,
            )
        )
    nats_urls = dict.fromkeys(SERVICES, options.nats_url or "")
    if options.nats_url is None:
        nats_port = free_port()
        nats_passwords = {name: secrets.secret(layout.secrets, f"nats-{name}") for name in SERVICES}
        nats_urls = {
            name: f"nats://{name}:{password}@127.0.0.1:{nats_port}"
            for name, password in nats_passwords.items()
        }
        components.append(
            Component(
                name="nats",
                command=embedded.nats_command(layout.nats, port=nats_port, users=nats_passwords),
                env={"PATH": environ.get("PATH", os.defpath)},
                ready=lambda: accepts(nats_port),
                log=layout.log("nats"),
            )
        )
    passed_on = {
        **{k: v for k, v in environ.items() if not k.startswith("DEIS_")},
        **{k: v for k, v in environ.items() if k.startswith(("DEIS_S3_", "DEIS_BUILD_"))},
        "DEIS_LOG_JSON": "false",
    }
    wired = {
        "DEIS_HEALTH_HOST": "127.0.0.1",
        "DEIS_PLATFORM_DOMAIN": options.platform_domain,
        **_object_store(options, layout),
    }
    _check_sandbox(layout, warnings=warnings)
    own = {
        "controller": {
            "DEIS_DATABASE_URL": database_urls["controller"],
            "DEIS_API_PORT": str(options.api_port),
        },
        "builder": {
            "DEIS_DATABASE_URL": database_urls["builder"],
            "DEIS_SSH_PORT": str(options.ssh_port),
            "DEIS_ROUTER_URL_PORT": str(options.http_port),
        },
        "scheduler": {},
        "logger": {},
        "router": {
            "DEIS_HTTP_PORT": str(options.http_port),
            "DEIS_HTTPS_PORT": str(options.https_port),
        },
    }
    modules = {"router": "deis_router_agent"}
    # The scheduler leaves the apps running when it stops or crashes alone (the one the
    # supervisor starts again adopts them), and the router agent its nginx; stopping the
    # platform takes them along.
    stop_signals = {"scheduler": SCHEDULER_STOP_APPS, "router": ROUTER_STOP_NGINX}
    for name, extra in own.items():
        health = free_port()
        env = {
            **passed_on,
            **options.service_settings.get(name, {}),
            **wired,
            **extra,
            "DEIS_NATS_URL": nats_urls[name],
            "DEIS_DATA_DIR": str(layout.service(name)),
            "DEIS_HEALTH_PORT": str(health),
        }
        module = modules.get(name, f"deis_{name}")
        components.append(
            Component(
                name=name,
                command=[sys.executable, "-m", f"{module}.main"],
                env=env,
                ready=lambda port=health: health_ready(port),  # type: ignore[misc]
                log=layout.log(name),
                wave=1,
                stop_signal=stop_signals.get(name, signal.SIGTERM),
            )
        )
    builder_host = "127.0.0.1"
    urls = {
        "controller": f"http://localhost:{options.api_port}",
        "apps": f"http://<app>.{options.platform_domain}:{options.http_port}",
        "git": f"ssh://git@{builder_host}:{options.ssh_port}/<app>.git",
    }
    return Plan(components=components, urls=urls, warnings=warnings)


def _object_store(options: Options, layout: Layout) -> dict[str, str]:
    if options.s3_endpoint_url is None:
        return {"DEIS_OBJECT_STORE": "filesystem", "DEIS_OBJECT_STORE_ROOT": str(layout.objects)}
    return {
        "DEIS_OBJECT_STORE": "s3",
        "DEIS_S3_ENDPOINT_URL": options.s3_endpoint_url,
        "DEIS_S3_BUCKET": options.s3_bucket,
    }


def _check_sandbox(layout: Layout, *, warnings: list[str]) -> None:
    """Refuse to start a platform whose apps could not run in their sandboxes.

    Apps and builds run only confined (`deis_shared.sandbox`), each as a user id of its own
    when deisctl runs as root: bwrap must work here, and those user ids must be able to pass
    through the data dir to the slugs the sandboxes mount. Python apps also need an interpreter
    under `/usr`, the only system tree a sandbox sees.

    Raises:
        CtlError: bwrap is missing or cannot make namespaces, or the data dir is closed.
    """
    try:
        sandbox.check_available()
    except sandbox.SandboxUnavailable as exc:
        raise CtlError(f"apps cannot be started: {exc}") from None
    if os.geteuid() == 0 and not reachable_by(layout.root, UNPRIVILEGED):
        raise CtlError(
            f"apps run as user ids of their own, which cannot reach {layout.root}: a directory"
            " above it is closed to others (root's home, say); choose a --data-dir such as"
            " /var/lib/deis"
        )
    if not any(Path(python).is_file() for python in SANDBOX_PYTHONS):
        warnings.append(
            "Python apps cannot be built: no python3 under /usr, the only system tree apps"
            " see (Debian: apt-get install python3 python3-pip python3-venv)"
        )
