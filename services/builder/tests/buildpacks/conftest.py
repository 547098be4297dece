"""Fixtures for the buildpack tests: collected output, hand-made wheels, an offline pip setup.

Python dependencies come from wheels the tests build themselves into a local wheelhouse, and pip
is pointed at it with PIP_NO_INDEX/PIP_FIND_LINKS: real pip runs, no network, same every time.
"""

import base64
import hashlib
import os
import subprocess
import sys
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from deis_builder.buildpacks import output


class _Collected:
    """An `Output` that keeps every line in a list."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines

    async def line(self, text: str) -> None:
        self.lines.append(text)


@pytest.fixture
def lines() -> list[str]:
    """Every line the test's `out` received."""
    return []


@pytest.fixture
def out(lines: list[str]) -> output.Output:
    """An output collecting into `lines`."""
    return _Collected(lines)


def make_wheel(directory: Path, name: str, version: str, requires: Sequence[str] = ()) -> Path:
    """Write a minimal pure-Python wheel: package `name` whose `hello()` returns its version."""
    dist_info = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": f"def hello():\n    return {f'{name} {version}'!r}\n",
        f"{dist_info}/METADATA": "".join(
            [
                "Metadata-Version: 2.1\n",
                f"Name: {name}\n",
                f"Version: {version}\n",
                *(f"Requires-Dist: {requirement}\n" for requirement in requires),
            ]
        ),
        f"{dist_info}/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: deis-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        record.append(f"{path},sha256={digest.decode()},{len(text.encode())}\n")
    record.append(f"{dist_info}/RECORD,,\n")
    files[f"{dist_info}/RECORD"] = "".join(record)
    directory.mkdir(parents=True, exist_ok=True)
    wheel = directory / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
    return wheel


@pytest.fixture
def wheelhouse(tmp_path: Path) -> Path:
    """The only place pip may find packages."""
    path = tmp_path / "wheels"
    path.mkdir()
    return path


@pytest.fixture
def add_wheel(wheelhouse: Path) -> Callable[..., Path]:
    """`make_wheel` into the wheelhouse: `add_wheel("greet", "1.0", requires=["other"])`."""

    def add(name: str, version: str, requires: Sequence[str] = ()) -> Path:
        return make_wheel(wheelhouse, name, version, requires)

    return add


def _has_pip(interpreter: Path) -> bool:
    if not interpreter.is_file():
        return False
    probe = subprocess.run(
        [str(interpreter), "-I", "-c", "import pip"], capture_output=True, check=False
    )
    return probe.returncode == 0


@pytest.fixture(scope="session")
def pip_python() -> str:
    """The absolute path of an interpreter with pip (the workspace venv has none)."""
    candidates = [Path(sys.executable), Path(sys.base_prefix, "bin", "python3")]
    for candidate in candidates:
        if _has_pip(candidate):
            return str(candidate)
    pytest.skip("no Python interpreter with pip found (tried the venv's and its base)")


@pytest.fixture
def build_env(wheelhouse: Path, tmp_path: Path) -> dict[str, str]:
    """The environment builds start from: this process's, with pip offline on the wheelhouse."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("PIP_")}
    env.pop("PYTHONPATH", None)
    env.update(
        PIP_NO_INDEX="1",
        PIP_FIND_LINKS=str(wheelhouse),
        PIP_CONFIG_FILE=os.devnull,
        npm_config_offline="true",
        npm_config_userconfig=str(tmp_path / "npmrc"),
    )
    return env


@pytest.fixture
def new_app(tmp_path: Path) -> Callable[[dict[str, str]], Path]:
    """Make a fresh pushed tree from file name -> text; each call gets its own directory."""
    made = 0

    def make(files: dict[str, str]) -> Path:
        nonlocal made
        made += 1
        app_dir = tmp_path / f"app{made}"
        for name, text in files.items():
            path = app_dir / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        app_dir.mkdir(exist_ok=True)
        return app_dir

    return make
