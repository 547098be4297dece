"""The agent's data dir as nginx's prefix: releases, the `current` symlink, TLS files, temp.

    <data_dir>/
        releases/<revision>/nginx.conf                      (0700: rendered, then validated)
        current -> releases/<revision>                      (nginx runs `-c current/nginx.conf`)
        tls/_platform/deis.pem                              (the platform's key and chain)
        tls/_fallback.pem                                   (the catch-all's unused pair)
        lua/deis_*.lua                                      (Lua, from this package)
        run/balancer.sock                                   (0700 dir: endpoints, agent only)
        temp/{body,proxy,fastcgi,uwsgi,scgi}                (the workers' temp files)
        logs/error.log, access.log, nginx.stderr
        nginx.pid

A release is written whole into a new directory, validated there, and made live by replacing
the `current` symlink with `rename(2)`, which is atomic: nginx (at a reload or a restart)
reads either the old release or the new one, never a mix. A release names no app (apps are
in nginx's route table, `domain.hosting`): it changes only with the agent's settings, and apps'
certificates are in nginx's memory, never on disk. The balancer's socket may live
elsewhere (`DEIS_BALANCER_SOCKET`, when the data dir's path is too long for a socket
address); its directory is made 0700 either way. Every method here is synchronous file work,
run by callers in a thread.

The platform's key and certificate chain share one file with a fixed path: a rotated pair
replaces it in one `rename(2)`, so nginx never reads a new certificate with the old key, and
is reloaded. The fallback pair (`domain.hosting`) is made once, at the first start.
"""

import importlib.resources
import os
import shutil
from pathlib import Path

from deis_router_agent.domain import hosting, keypairs
from deis_router_agent.domain.options import KeyPair, Paths
from deis_router_agent.errors import NginxFailed

TEMP_DIRS = ("body", "proxy", "fastcgi", "uwsgi", "scgi")
PLATFORM_TLS = "_platform"
"""The directory under `tls/` of the platform's certificate."""
LUA_FILE = "deis_balancer.lua"
LUA_FILES = (LUA_FILE, "deis_routes.lua", "deis_metrics.lua", "deis_acme.lua", "deis_socket.lua")
"""The Lua modules nginx loads from `lua/`: the balancer, the route table, the request
counters, the ACME answers, and what the agent's socket's handlers share."""


def _write(path: Path, text: str, *, mode: int) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


class Layout:
    """Paths of the data dir and the file operations on releases."""

    def __init__(self, root: Path, *, socket: Path | None = None) -> None:
        self.root = root.absolute()
        self.releases = self.root / "releases"
        self.current = self.root / "current"
        self.tls = self.root / "tls"
        self.temp = self.root / "temp"
        self.logs = self.root / "logs"
        self.pid = self.root / "nginx.pid"
        self.status_port_file = self.root / "status.port"
        """The status server's port when it was picked (an adopting agent keeps it)."""
        self.lua = self.root / "lua"
        self.socket = (socket or self.root / "run" / "balancer.sock").absolute()

    @property
    def paths(self) -> Paths:
        """The paths the rendering writes into the configuration."""
        return Paths(
            pid=self.pid,
            logs=self.logs,
            temp=self.temp,
            tls=self.tls,
            lua=self.lua,
            balancer_socket=self.socket,
        )

    @property
    def platform_tls(self) -> KeyPair:
        """Where the platform's key and certificate chain are copied to: one file."""
        path = self.tls / PLATFORM_TLS / "deis.pem"
        return KeyPair(certificate=path, key=path)

    def write_platform_tls(self, pem: str) -> None:
        """Replace the platform's key and certificate chain (a 0600 file in a 0700 directory)."""
        path = self.platform_tls.certificate
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        _write(path, pem, mode=0o600)

    @property
    def live_conf(self) -> Path:
        """The file nginx is started with: follows `current` at every reload."""
        return self.current / "nginx.conf"

    def release(self, revision: int) -> Path:
        """Directory of a release."""
        return self.releases / str(revision)

    def conf(self, revision: int) -> Path:
        """Main file of a release."""
        return self.release(revision) / "nginx.conf"

    def saved_status_port(self) -> int | None:
        """The status port an earlier agent picked, if it saved one."""
        try:
            port = int(self.status_port_file.read_text().strip())
        except (OSError, ValueError):
            return None
        return port if 0 < port < 65536 else None

    def save_status_port(self, port: int) -> None:
        """Remember the status port, for the agent that adopts this one's nginx."""
        _write(self.status_port_file, f"{port}\n", mode=0o600)

    def live_revision(self) -> int | None:
        """The release `current` names, if it names one that is on disk."""
        try:
            target = os.readlink(self.current)
        except OSError:
            return None
        name = Path(target).name
        if Path(target).parent.name != self.releases.name or not name.isdigit():
            return None
        return int(name) if self.conf(int(name)).is_file() else None

    def holds(self, revision: int, *, main: str) -> bool:
        """Whether release `revision` is exactly `main`."""
        try:
            return self.conf(revision).read_text() == main
        except OSError:
            return False

    def prepare(self, *, owner: tuple[int, int] | None, keep_live: bool = False) -> int:
        """Create the directories; forget earlier runs' releases; give temp dirs to `owner`.

        The balancer's socket stays: an nginx left running by an earlier agent, which this one
        adopts, listens on it (the master removes it before each start of its own). With
        `keep_live` (there is such an nginx), so do `current` and the release it names: if this
        agent would render the same, it takes that release over without a reload.

        Returns:
            The newest revision of earlier runs (0 if none): this run's revisions go on from
            there, so that an adopted nginx's answer is never taken for a newer revision's.

        Raises:
            NginxFailed: the socket's directory is not the agent's alone.
        """
        for directory in (self.root, self.logs, self.temp, self.lua):
            directory.mkdir(parents=True, exist_ok=True)
        for private in (self.releases, self.tls):
            private.mkdir(mode=0o700, exist_ok=True)
            private.chmod(0o700)
        self._private_socket_dir()
        self._fallback()
        for name in LUA_FILES:
            source = importlib.resources.files("deis_router_agent.nginx").joinpath(name)
            _write(self.lua / name, source.read_text(), mode=0o644)
        live = self.live_revision() if keep_live else None
        if live is None:
            self.current.unlink(missing_ok=True)
        newest = 0
        for old in self.releases.iterdir():
            if old.name.isdigit():
                newest = max(newest, int(old.name))
            if old.name != str(live):
                shutil.rmtree(old, ignore_errors=True)
        for name in TEMP_DIRS:
            path = self.temp / name
            path.mkdir(mode=0o700, exist_ok=True)
            if owner is not None:
                os.chown(path, *owner)
        return newest

    def _private_socket_dir(self) -> None:
        """The socket's directory, made if missing; refused unless the agent's alone (0700)."""
        directory = self.socket.parent
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        found = directory.stat()
        if found.st_uid != os.geteuid() or found.st_mode & 0o077:
            raise NginxFailed(
                f"{directory} (the balancer socket's directory) must belong to the agent's "
                f"user and have mode 0700, so that no one else can set endpoints; it has mode "
                f"{found.st_mode & 0o777:o} and owner {found.st_uid}"
            )

    def _fallback(self) -> None:
        """Make the fallback pair if missing; drop what earlier versions kept under `tls/`."""
        path = self.tls / hosting.FALLBACK
        if not path.is_file():
            _write(path, keypairs.self_signed("deis-router-fallback"), mode=0o600)
        for entry in self.tls.iterdir():
            if entry.is_dir() and entry.name != PLATFORM_TLS:
                shutil.rmtree(entry, ignore_errors=True)  # per-app files: now in nginx's memory

    def write_release(self, *, revision: int, main: str) -> Path:
        """Write a release: its directory and its `nginx.conf`."""
        directory = self.release(revision)
        if directory.exists():
            shutil.rmtree(directory)
        directory.mkdir(parents=True, mode=0o700)
        _write(self.conf(revision), main, mode=0o600)
        return directory

    def swap(self, revision: int) -> None:
        """Make `revision` the live release, atomically."""
        link = self.root / ".current.tmp"
        link.unlink(missing_ok=True)
        link.symlink_to(self.release(revision).relative_to(self.root))
        os.replace(link, self.current)

    def discard(self, revision: int) -> None:
        """Remove a release that never went live."""
        shutil.rmtree(self.release(revision), ignore_errors=True)

    def prune(self, *, keep: int) -> None:
        """Keep the newest `keep` releases."""
        revisions = sorted(int(p.name) for p in self.releases.iterdir() if p.name.isdigit())
        for revision in revisions[:-keep]:
            self.discard(revision)
