"""Pebble, Let's Encrypt's test ACME server, with `pebble-challtestsrv` as its DNS, on free ports.

From the Debian package `pebble`. Pebble serves its ACME API over HTTPS with a certificate of
ours (a self-signed one made with `openssl` here; `ca_bundle` is what clients must trust) and
makes a new root CA at every start (`root()` reads it from the management API). Its DNS
questions go to a `pebble-challtestsrv` answering 127.0.0.1 for every name, with its own
challenge servers off: the HTTP-01 answers are ours to serve, on `http_port`.

`always_valid` (`PEBBLE_VA_ALWAYS_VALID`) makes Pebble take every challenge as passed without
looking, for tests of the issuer without a router. Names under `blocked` are refused at order
time (Pebble's `domainBlocklist`), as a CA's policy refuses a name.
"""

import json
import os
import shutil
import ssl
import subprocess
import tempfile
import urllib.request
from pathlib import Path

from deis_testing.ports import free_port, wait_for_port

PEBBLE = "/usr/bin/pebble"
CHALLTESTSRV = "/usr/bin/pebble-challtestsrv"


def available() -> bool:
    """Whether the `pebble` package is installed."""
    return shutil.which(PEBBLE) is not None and shutil.which(CHALLTESTSRV) is not None


class PebbleServer:
    """One Pebble with its DNS server; `close()` stops both (idempotent)."""

    def __init__(
        self,
        *,
        always_valid: bool = True,
        http_port: int | None = None,
        blocked: tuple[str, ...] = (),
        validity_seconds: int | None = None,
    ) -> None:
        """Configure; nothing runs until `start`."""
        self._tmp = tempfile.TemporaryDirectory(prefix="deis-pebble-")
        self.dir = Path(self._tmp.name)
        self.port = free_port()
        self.management_port = free_port()
        self.dns_port = free_port()
        self.dns_management_port = free_port()
        self.http_port = http_port or free_port()
        self.tls_port = free_port()
        self.always_valid = always_valid
        self.blocked = blocked
        self.validity_seconds = validity_seconds
        self._procs: list[subprocess.Popen[bytes]] = []

    @property
    def directory(self) -> str:
        """The ACME directory URL."""
        return f"https://127.0.0.1:{self.port}/dir"

    @property
    def ca_bundle(self) -> str:
        """The CA file to trust when talking to Pebble's ACME and management APIs."""
        return str(self.dir / "cert.pem")

    def _certificate(self) -> None:
        subprocess.run(
            [
                "openssl", "req", "-x509", "-newkey", "ec",
                "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", str(self.dir / "key.pem"), "-out", self.ca_bundle,
                "-days", "2", "-subj", "/CN=127.0.0.1",
                "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
            ],
            check=True,
            capture_output=True,
        )  # fmt: skip

    def start(self, *, timeout: float = 15.0) -> None:
        """Start the DNS server and Pebble, and wait until both listen."""
        self._certificate()
        config: dict[str, object] = {
            "listenAddress": f"127.0.0.1:{self.port}",
            "managementListenAddress": f"127.0.0.1:{self.management_port}",
            "certificate": self.ca_bundle,
            "privateKey": str(self.dir / "key.pem"),
            "httpPort": self.http_port,
            "tlsPort": self.tls_port,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": False,
            "domainBlocklist": list(self.blocked),
        }
        if self.validity_seconds is not None:
            config["certificateValidityPeriod"] = self.validity_seconds
        (self.dir / "pebble.json").write_text(json.dumps({"pebble": config}))
        env = {
            **os.environ,
            "PEBBLE_VA_NOSLEEP": "1",
            "PEBBLE_WFE_NONCEREJECT": "0",
            "PEBBLE_AUTHZREUSE": "0",
        }
        if self.always_valid:
            env["PEBBLE_VA_ALWAYS_VALID"] = "1"
        else:
            env.pop("PEBBLE_VA_ALWAYS_VALID", None)
        self._spawn(
            [
                CHALLTESTSRV,
                "-management", f"127.0.0.1:{self.dns_management_port}",
                "-dns01", f"127.0.0.1:{self.dns_port}",
                "-http01", "", "-https01", "", "-tlsalpn01", "",
                "-defaultIPv4", "127.0.0.1", "-defaultIPv6", "",
            ],
            log="challtestsrv.log",
            env=dict(os.environ),
        )  # fmt: skip
        self._spawn(
            [
                PEBBLE,
                "-config", str(self.dir / "pebble.json"),
                "-dnsserver", f"127.0.0.1:{self.dns_port}",
            ],
            log="pebble.log",
            env=env,
        )  # fmt: skip
        try:
            for port in (self.dns_management_port, self.port, self.management_port):
                wait_for_port(port, timeout=timeout)
        except TimeoutError:
            self.close()
            raise

    def _spawn(self, argv: list[str], *, log: str, env: dict[str, str]) -> None:
        with (self.dir / log).open("ab") as out:
            self._procs.append(
                subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env)
            )

    def _management(self, path: str) -> str:
        context = ssl.create_default_context(cafile=self.ca_bundle)
        url = f"https://127.0.0.1:{self.management_port}{path}"
        with urllib.request.urlopen(url, context=context, timeout=10) as response:
            text: str = response.read().decode()
        return text

    def root(self) -> str:
        """Pebble's root CA certificate (PEM), new at every start."""
        return self._management("/roots/0")

    def log(self) -> str:
        """What Pebble has logged so far (for failure messages)."""
        path = self.dir / "pebble.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def close(self) -> None:
        """Stop both servers and remove the files."""
        procs, self._procs = self._procs, []
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._tmp.cleanup()
