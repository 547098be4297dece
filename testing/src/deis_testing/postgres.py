"""A throwaway PostgreSQL cluster: initdb into a temp dir, postgres on a free port.

Binaries are found as `deisctl` finds them (`deis_shared.binaries`): the system's, or the
`pgserver` package's where the system has none. PostgreSQL refuses to run
as root, so when the tests run as root the cluster runs as the `postgres` user (or `nobody`).
"""

import os
import pwd
import subprocess
import tempfile
import time
from pathlib import Path

from deis_shared import binaries
from deis_testing.ports import free_port


def postgres_bindir() -> Path:
    """Find a directory holding `initdb`, `postgres` and `pg_isready` (as `deisctl` does)."""
    try:
        return binaries.postgres_bindir()
    except FileNotFoundError as exc:
        raise RuntimeError(str(exc)) from None


class PostgresServer:
    """One PostgreSQL cluster with trust authentication for user `postgres` on 127.0.0.1."""

    def __init__(self) -> None:
        self.port = free_port()
        self.user = binaries.postgres_user()
        self._tmp = tempfile.TemporaryDirectory(prefix="deis-pg-")
        self.root = Path(self._tmp.name)
        self.data_dir = self.root / "data"
        self._proc: subprocess.Popen[bytes] | None = None
        self._bindir = postgres_bindir()

    def dsn(self, database: str = "postgres") -> str:
        """A connection URL for `database` as the superuser."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def start(self, *, timeout: float = 30.0) -> None:
        """initdb, start postgres and wait until it accepts queries."""
        if self.user is not None:
            entry = pwd.getpwnam(self.user)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        subprocess.run(
            [
                str(self._bindir / "initdb"),
                "--pgdata", str(self.data_dir),
                "--username", "postgres",
                "--auth", "trust",
                "--encoding", "UTF8",
                "--no-sync",
            ],
            check=True,
            capture_output=True,
            user=self.user,
            cwd=self.root,
        )  # fmt: skip
        log = (self.root / "postgres.log").open("ab")
        with log:
            self._proc = subprocess.Popen(
                [
                    str(self._bindir / "postgres"),
                    "-D", str(self.data_dir),
                    "-p", str(self.port),
                    "-k", str(self.root),
                    "-c", "listen_addresses=127.0.0.1",
                    "-c", "max_connections=300",
                    "-c", "fsync=off",
                    "-c", "synchronous_commit=off",
                    "-c", "full_page_writes=off",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                user=self.user,
                cwd=self.root,
            )  # fmt: skip
        deadline = time.monotonic() + timeout
        while True:
            if self._proc.poll() is not None:
                raise RuntimeError(
                    "postgres exited: " + (self.root / "postgres.log").read_text()[-2000:]
                )
            ready = subprocess.run(
                [str(self._bindir / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port)],
                check=False,
            )
            if ready.returncode == 0:
                return
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"postgres not ready after {timeout}s")
            time.sleep(0.05)

    def stop(self) -> None:
        """Fast shutdown (SIGINT), then remove the cluster; safe to call twice."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(2)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._tmp.cleanup()
