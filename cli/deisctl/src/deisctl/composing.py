r"""What `docker compose up` needs beside `docker-compose.yml`: credentials, two configurations.

`deisctl compose-env` writes, in the compose project's directory (the repository's root):

    .env                               the platform's credentials: made on the first run, kept
                                       after (a name a newer version adds is appended); 0600
    .compose/nats.conf                 nats-server's configuration: a user per service with its
                                       permissions (`deis_shared.bus.permissions`), JetStream
    .compose/initdb/10-deis-roles.sql  PostgreSQL's first start: each service's role and schema,
                                       the statements `deisctl up` runs (`provisioning`)

The two configurations are written anew at each run, as `deisctl up` writes nats-server's at
each start, so that they follow the permission table and the roles of the checked-out code.

Only `.env` holds secrets. Compose reads it to fill the `${...}` of `docker-compose.yml` and
hands each container only what is its own: a service its database and NATS passwords inside its
`DEIS_*` URLs; the nats container the NATS passwords, which `nats.conf` names as variables
(`$NATS_<USER>_PASSWORD`, resolved by nats-server from its environment); the postgres container
the superuser's and the roles' passwords, which the init script reads with psql's `\getenv`.
So the files mounted into containers hold no secret and may be readable by the containers'
users, whatever their user ids.
"""

import os
from dataclasses import dataclass
from pathlib import Path

from deis_cli import dotenv, errors as cli_errors
from deis_shared.bus import permissions
from deisctl import embedded, provisioning, secrets
from deisctl.errors import CtlError

ENV_FILE = ".env"
"""The credentials, where compose looks for its variables: the project's directory."""

CONFIG_DIR = ".compose"
"""The generated configurations, mounted by `docker-compose.yml` (ignored by git)."""

NATS_CONFIG = f"{CONFIG_DIR}/nats.conf"
INITDB_SCRIPT = f"{CONFIG_DIR}/initdb/10-deis-roles.sql"

SUPERUSER_PASSWORD = "PG_SUPERUSER_PASSWORD"
"""The PostgreSQL superuser's password: the postgres container's alone."""

S3_ACCESS_KEY = "S3_ACCESS_KEY"
S3_SECRET_KEY = "S3_SECRET_KEY"

NATS_MONITOR = "127.0.0.1:8222"
"""nats-server's monitoring listener (`/healthz` for the health check): inside its container
only, since it answers anyone (connections, subscriptions) and apps share a network with it.
The image's entrypoint gives the port on the command line, which keeps this address."""

_HEADER = """\
# The Deis platform's credentials for docker compose, written by `deisctl compose-env`.
# Kept by later runs. To start over with new ones: `docker compose down -v`, remove this file,
# run `deisctl compose-env` again (PostgreSQL takes its roles' passwords at its first start).
"""


def database_password(service: str) -> str:
    """The variable holding the password of `service`'s PostgreSQL role."""
    return f"PG_{service.upper()}_PASSWORD"


def nats_password(user: str) -> str:
    """The variable holding the password of NATS user `user` (a service)."""
    return f"NATS_{user.upper()}_PASSWORD"


def secret_names() -> list[str]:
    """Every variable of `.env`, in the order a new file lists them."""
    return [
        SUPERUSER_PASSWORD,
        *(database_password(service) for service in provisioning.SERVICE_SCHEMAS),
        *(nats_password(user) for user in permissions.BY_SERVICE),
        S3_ACCESS_KEY,
        S3_SECRET_KEY,
    ]


@dataclass(frozen=True)
class Written:
    """What one run wrote."""

    env: Path
    created: bool
    """Whether `.env` was made by this run (else kept)."""
    added: list[str]
    """Variables an existing `.env` lacked, appended to it."""
    nats_config: Path
    initdb_script: Path


def write(directory: Path) -> Written:
    """Write `.env` (unless there) and the configurations in `directory`.

    Raises:
        CtlError: an existing `.env` may be read by others, or is not a `.env` file.
    """
    env = directory / ENV_FILE
    created, added = ensure_env(env)
    nats_config, initdb_script = write_configs(directory)
    return Written(
        env=env, created=created, added=added, nats_config=nats_config, initdb_script=initdb_script
    )


def write_configs(directory: Path) -> tuple[Path, Path]:
    """Write nats-server's configuration and PostgreSQL's first-start script in `directory`.

    Returns:
        Their paths.
    """
    nats_config = directory / NATS_CONFIG
    initdb_script = directory / INITDB_SCRIPT
    _write_public(nats_config, nats_conf())
    _write_public(initdb_script, initdb_sql())
    return nats_config, initdb_script


def ensure_env(path: Path) -> tuple[bool, list[str]]:
    """Make `path` with a fresh secret per variable, or add the missing ones to it.

    Returns:
        Whether the file was made, and the variables appended to an existing one.

    Raises:
        CtlError: the existing file may be read by others, or does not parse.
    """
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(descriptor, "w") as file:
            lines = "".join(f"{name}={secrets.generate()}\n" for name in secret_names())
            file.write(_HEADER + lines)
        return True, []
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise CtlError(f"{path} may be read by others (mode {mode:o}): chmod 600 it")
    text = path.read_text()
    try:
        present = dotenv.parse(text, source=str(path))
    except cli_errors.InvalidInput as exc:
        raise CtlError(str(exc)) from None
    missing = [name for name in secret_names() if not present.get(name)]
    if missing:
        lines = "".join(f"{name}={secrets.generate()}\n" for name in missing)
        with path.open("a") as file:
            file.write(("" if text.endswith("\n") or not text else "\n") + lines)
    return False, missing


def nats_conf() -> str:
    """nats-server's configuration: a user per service, JetStream, monitoring.

    JetStream's store is the nats image's volume (`/data`), which its entrypoint names on the
    command line (`--store_dir`; the server refuses a second one in the file).
    """
    passwords = {user: f"${nats_password(user)}" for user in permissions.BY_SERVICE}
    return (
        "# Written by `deisctl compose-env` at each run. Clients must give a user and password,\n"
        "# and each user may use only its service's subjects (deis_shared.bus.permissions);\n"
        "# the passwords are nats-server's environment variables, from .env.\n"
        'listen: "0.0.0.0:4222"\n'
        f'http: "{NATS_MONITOR}"\n'
        "jetstream: enabled\n" + embedded.nats_authorization(passwords)
    )


def initdb_sql() -> str:
    """PostgreSQL's first-start script: each service's role and schema, as `deisctl up` makes them.

    The statements are `provisioning`'s; the passwords are read from the server's environment.
    """
    lines = [
        "-- Written by `deisctl compose-env`: run once, when PostgreSQL starts on an empty volume.",
        "-- Each service logs in as a role of its own that owns its schema (as `deisctl up`'s",
        "-- provisioning makes them); the passwords come from the container's environment.",
        r"\set ON_ERROR_STOP on",
    ]
    for service in provisioning.SERVICE_SCHEMAS:
        variable = database_password(service)
        # Unset, the password would not be substituted: stop with a message that says why.
        lines += [
            rf"\getenv {service}_password {variable}",
            rf"\if :{{?{service}_password}}",
            r"\else",
            f"DO $$ BEGIN RAISE EXCEPTION '{variable} is not set (deisctl compose-env)'; END $$;",
            r"\endif",
        ]
    lines.append("BEGIN;")
    lines.extend(f"{statement};" for statement in provisioning.LOCKDOWN)
    for service in provisioning.SERVICE_SCHEMAS:
        statements = provisioning.role_statements(service, password=f":'{service}_password'")
        lines.extend(f"{statement};" for statement in statements)
    lines.append("COMMIT;")
    return "\n".join(lines) + "\n"


def _write_public(path: Path, text: str) -> None:
    """Write `path` readable by anyone (it holds no secret): a container's user reads it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for directory in (path.parent, path.parent.parent):
        if directory.name in (CONFIG_DIR, "initdb"):
            directory.chmod(0o755)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text)
    temporary.chmod(0o644)
    temporary.replace(path)
