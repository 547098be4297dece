"""Where `deisctl` keeps everything: one data directory, laid out here and nowhere else.

    <data>/postgres/          the PostgreSQL cluster (owned by its user when run as root)
    <data>/nats/              JetStream's store
    <data>/objects/           the filesystem object store (sources, slugs, log archives)
    <data>/<service>/         each service's own directory (builder repos, scheduler slugs, ...)
    <data>/logs/<name>.log    what each supervised process writes
    <data>/run/deisctl.lock   held (flock) by the running supervisor
    <data>/run/state.json     the running platform: supervisor pid, ports, process pids

Run as root, the data directory must be reachable by the unprivileged users PostgreSQL and the
apps run as: `reachable_by` checks every parent directory.
"""

import os
import pwd
from dataclasses import dataclass
from pathlib import Path

SERVICES = ("controller", "builder", "scheduler", "logger", "router")
"""The platform's services, in start order after PostgreSQL and NATS."""


def default_data_dir() -> Path:
    """`~/.local/share/deis`, or `/var/lib/deis` for root (whose home others cannot enter)."""
    if os.geteuid() == 0:
        return Path("/var/lib/deis")
    return Path.home() / ".local" / "share" / "deis"


@dataclass(frozen=True)
class Layout:
    """The paths under one data directory."""

    root: Path

    @property
    def postgres(self) -> Path:
        """The PostgreSQL cluster's directory."""
        return self.root / "postgres"

    @property
    def nats(self) -> Path:
        """JetStream's store."""
        return self.root / "nats"

    @property
    def objects(self) -> Path:
        """The filesystem object store."""
        return self.root / "objects"

    @property
    def logs(self) -> Path:
        """The supervised processes' logs."""
        return self.root / "logs"

    @property
    def run(self) -> Path:
        """The lock and state of the running supervisor."""
        return self.root / "run"

    @property
    def lock(self) -> Path:
        """Held by the running supervisor."""
        return self.run / "deisctl.lock"

    @property
    def state(self) -> Path:
        """The running platform's description."""
        return self.run / "state.json"

    @property
    def secrets(self) -> Path:
        """The platform's credentials (`secrets`), readable by the data dir's owner only."""
        return self.root / "secrets"

    def service(self, name: str) -> Path:
        """A service's own directory."""
        return self.root / name

    def log(self, name: str) -> Path:
        """The log file of supervised process `name`."""
        return self.logs / f"{name}.log"

    def create(self) -> None:
        """Make the directories (0755: the unprivileged users must pass through)."""
        for path in (self.root, self.logs, self.run, self.objects, self.nats):
            path.mkdir(mode=0o755, parents=True, exist_ok=True)
        os.chmod(self.run, 0o700)


def reachable_by(path: Path, user: str) -> bool:
    """Whether `user` can reach `path`: every directory above it lets them pass (x bit)."""
    entry = pwd.getpwnam(user)
    for directory in [*reversed(path.resolve().parents)]:
        info = directory.stat()
        if info.st_uid == entry.pw_uid:
            if not info.st_mode & 0o100:
                return False
        elif info.st_gid == entry.pw_gid:
            if not info.st_mode & 0o010:
                return False
        elif not info.st_mode & 0o001:
            return False
    return True
