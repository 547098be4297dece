"""Fixtures for the buildpack tests: collected output, an offline build environment, app trees.

Python dependencies come from wheels the tests build themselves into a local wheelhouse (the
`add_wheel` fixture of the builder's conftest), and pip is pointed at it with
PIP_NO_INDEX/PIP_FIND_LINKS: real pip runs, no network, same every time.
"""

import os
from collections.abc import Callable
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
