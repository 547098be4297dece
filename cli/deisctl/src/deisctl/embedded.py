"""The embedded servers: a PostgreSQL cluster and a nats-server with JetStream, in the data dir.

The programs are found by `deis_shared.binaries`. PostgreSQL refuses to run as root, so under
root the cluster belongs to the `postgres` user (or `nobody`). It listens on 127.0.0.1 only, on
a port chosen at each start, and no Unix socket (the data dir's path may be too long for one).
Every connection authenticates with a password; the roles are `provisioning`'s.
"""

import json
import os
import pwd
import signal
import subprocess
from collections.abc import Mapping
from pathlib import Path

from deis_shared import binaries
from deis_shared.bus import permissions
from deisctl.errors import CtlError


def postgres_bindir() -> Path:
    """A directory holding `initdb`, `postgres` and `pg_isready`.

    Raises:
        CtlError: none was found.
    """
    try:
        return binaries.postgres_bindir()
    except FileNotFoundError as exc:
        raise CtlError(f"{exc}; or point --database-url at a server") from None


def postgres_user() -> str | None:
    """Who the cluster runs as: None for ourselves; under root an unprivileged account.

    Raises:
        CtlError: running as root and there is no such account.
    """
    try:
        return binaries.postgres_user()
    except LookupError as exc:
        raise CtlError(str(exc)) from None


def init_postgres(cluster: Path, *, bindir: Path, user: str | None, password: str) -> None:
    """Create the cluster in `cluster/data` unless it exists; idempotent.

    Every connection must give a password (SCRAM); the superuser's is `password`.

    Raises:
        CtlError: initdb failed.
    """
    data = cluster / "data"
    if (data / "PG_VERSION").exists():
        return
    cluster.mkdir(mode=0o700, parents=True, exist_ok=True)
    owner = pwd.getpwnam(user) if user is not None else None
    if owner is not None:
        os.chown(cluster, owner.pw_uid, owner.pw_gid)
    # initdb reads the password from a file, as the cluster's user: one of its own, removed after.
    pwfile = cluster / "initdb.pw"
    descriptor = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(password + "\n")
    if owner is not None:
        os.chown(pwfile, owner.pw_uid, owner.pw_gid)
    try:
        done = subprocess.run(
            [
                str(bindir / "initdb"),
                "--pgdata", str(data),
                "--username", "postgres",
                "--auth", "scram-sha-256",
                "--pwfile", str(pwfile),
                "--encoding", "UTF8",
            ],
            capture_output=True,
            text=True,
            user=user,
            cwd=cluster,
            check=False,
        )  # fmt: skip
    finally:
        pwfile.unlink(missing_ok=True)
    if done.returncode != 0:
        raise CtlError(f"initdb failed: {done.stderr.strip() or done.stdout.strip()}")


def postgres_command(cluster: Path, *, bindir: Path, port: int) -> list[str]:
    """The command running the cluster on 127.0.0.1:`port`."""
    return [
        str(bindir / "postgres"),
        "-D", str(cluster / "data"),
        "-p", str(port),
        "-c", "listen_addresses=127.0.0.1",
        "-c", "unix_socket_directories=",
        "-c", "max_connections=200",
    ]  # fmt: skip


def postgres_ready(*, bindir: Path, port: int) -> bool:
    """Whether the cluster accepts connections."""
    probe = [str(bindir / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(port)]
    return subprocess.run(probe, check=False).returncode == 0


def nats_server_binary() -> str:
    """The nats-server program.

    Raises:
        CtlError: none was found.
    """
    try:
        return binaries.nats_server()
    except FileNotFoundError as exc:
        raise CtlError(f"{exc}; or point --nats-url at a server") from None


def nats_authorization(passwords: Mapping[str, str]) -> str:
    """The `authorization` block of a nats-server configuration: a user per service.

    Each user gets its service's permissions (`deis_shared.bus.permissions`). `deisctl up`
    and `deisctl compose-env` (`composing`) both write it.

    Args:
        passwords: Each user, mapped to its password as the configuration spells it: a quoted
            string (`json.dumps(password)`), or a `$VARIABLE` nats-server takes from its
            environment.

    Raises:
        CtlError: a user is no service, so there are no permissions to give it.
    """
    entries = []
    for user, password in sorted(passwords.items()):
        allowed = permissions.BY_SERVICE.get(user)
        if allowed is None:
            raise CtlError(f"no NATS permissions for user {user!r}: not a service")
        rights = json.dumps(allowed.server_config())
        entries.append(
            f'    {{"user": {json.dumps(user)}, "password": {password}, "permissions": {rights}}}'
        )
    accounts = ",\n".join(entries)
    return f"authorization {{\n  users: [\n{accounts}\n  ]\n}}\n"


def nats_command(store: Path, *, port: int, users: dict[str, str]) -> list[str]:
    """The command running nats-server with JetStream on 127.0.0.1:`port`, for `users` only.

    `users` maps each service's user to its password; they are written to `<store>.conf`
    (owner-only), the server's configuration, so that no password shows in a process listing.
    Each user gets its service's permissions (`deis_shared.bus.permissions`): the subjects it
    may publish and subscribe to.

    Raises:
        CtlError: a user is no service, so there are no permissions to give it.
    """
    config = store.parent / f"{store.name}.conf"
    text = (
        "# Written by deisctl at each start: clients must give a user and password, and each\n"
        "# user may use only its service's subjects (deis_shared.bus.permissions).\n"
        + nats_authorization({user: json.dumps(password) for user, password in users.items()})
    )
    descriptor = os.open(config, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(text)
    return [
        nats_server_binary(),
        "--config", str(config),
        "--addr", "127.0.0.1",
        "--port", str(port),
        "--jetstream",
        "--store_dir", str(store),
    ]  # fmt: skip


FAST_SHUTDOWN = signal.SIGINT
"""PostgreSQL's fast shutdown: roll back open transactions, checkpoint, exit."""
