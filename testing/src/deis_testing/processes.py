"""Our own services as real processes, for tests and benchmarks: start, wait, stop.

A service runs as `python -m <module>` with the environment it is given (its `DEIS_*`
settings), its stderr in a log file, and counts as started once it accepts connections on its
port. Starting fails with the end of that log, so a service that dies at start-up says why.
"""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

LOG_TAIL = 3000
"""Characters of the log quoted when a service does not start."""


class ServiceProcess:
    """One service process; `stop()` is safe to call twice and before `start()`."""

    def __init__(self, module: str, *, env: Mapping[str, str], port: int, log: Path) -> None:
        self.module = module
        self.env = dict(env)
        self.port = port
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """`http://127.0.0.1:<port>`, for HTTP services."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, *, timeout: float = 30.0) -> None:
        """Start the process and wait until it accepts connections on its port.

        Raises:
            RuntimeError: it exited, or did not listen within `timeout` seconds; the message
                ends with its log.
        """
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as stderr:
            self.process = subprocess.Popen(
                [sys.executable, "-m", self.module], env=self.env, stderr=stderr
            )
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                self._fail(f"exited with {self.process.returncode}")
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            if time.monotonic() > deadline:
                self._fail(f"did not listen on {self.port} within {timeout} s")
            time.sleep(0.02)

    def _fail(self, what: str) -> None:
        self.stop()
        tail = self.log.read_text(errors="replace")[-LOG_TAIL:]
        raise RuntimeError(f"{self.module} {what}:\n{tail}")

    def stop(self, *, grace: float = 10.0) -> int | None:
        """SIGTERM, then SIGKILL after `grace` seconds; the exit code (None if never started)."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self.process.kill()
        return self.process.wait()

    def kill(self) -> None:
        """SIGKILL, as a crash; waits for the process to be gone."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def controller_process(
    *, dsn: str, nats_url: str, port: int, log: Path, **settings: str
) -> ServiceProcess:
    """The controller as a process (not started), with cheap password hashing for tests.

    Args:
        dsn: Its database.
        nats_url: Its NATS server.
        port: Its API port.
        log: Where its log goes.
        settings: More `DEIS_*` variables, by their names without the prefix
            (`RPC_TIMEOUT="1"`).
    """
    env = {
        **os.environ,
        "DEIS_DATABASE_URL": dsn,
        "DEIS_NATS_URL": nats_url,
        "DEIS_API_PORT": str(port),
        "DEIS_PASSWORD_TIME_COST": "1",
        "DEIS_PASSWORD_MEMORY_COST": "8",
        "DEIS_SHUTDOWN_TIMEOUT": "5",
        "DEIS_ROLLOUT_WAIT": "0",  # no scheduler beside it, unless a test gives a wait
        **{f"DEIS_{name}": value for name, value in settings.items()},
    }
    return ServiceProcess("deis_controller.main", env=env, port=port, log=log)


def app_pids(app: str) -> set[int]:
    """Process group leaders on this host whose environment says `DEIS_APP=<app>`.

    These are the live processes the local scheduler started for `app`.
    """
    found = set()
    marker = f"DEIS_APP={app}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        state, _, pgid = stat.rsplit(")", 1)[1].split()[:3]
        if marker in environ and state not in ("Z", "X") and int(pgid) == int(entry.name):
            found.add(int(entry.name))
    return found
