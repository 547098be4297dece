"""Fixtures for the buildpack tests: collected output, a real build sandbox, app trees.

Every test compiles in a build's sandbox as the builder makes it (`sandboxing`): as root, a
user id of the build's own, so the test's directories are made passable for it. Python
dependencies come from wheels the tests build themselves into a local wheelhouse, served on
loopback (`wheel_index` of the builder's conftest): real pip, through the sandbox's network,
offline and the same every time.
"""

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from deis_builder.buildpacks import output, sandboxing
from deis_builder.buildpacks.detection import CompiledApp, compile_app
from deis_shared.sandbox import Sandbox, UidTable
from deis_testing import traversable

BUILD_UID_FIRST = 300_000
"""The builder's first build user id (its default setting)."""


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
def space(tmp_path: Path) -> sandboxing.Workspace:
    """A build's directories, for its user id (when root), as a build gets them."""
    uid = None
    if os.geteuid() == 0:
        uid = UidTable(tmp_path / "uids.json", first=BUILD_UID_FIRST, count=10).uid("app")
    return sandboxing.prepare(
        work=traversable(tmp_path / "builds") / "work", cache_dir=tmp_path / "cache", uid=uid
    )


@pytest.fixture
def sandbox(space: sandboxing.Workspace) -> Sandbox:
    """The build's sandbox."""
    return sandboxing.build_sandbox(space, app="app", max_processes=512)


@pytest.fixture
def build_env(wheel_index: str, space: sandboxing.Workspace) -> dict[str, str]:
    """The environment builds start from: pip offline on the wheelhouse, npm offline."""
    return sandboxing.environment(
        {
            "PIP_NO_INDEX": "1",
            "PIP_FIND_LINKS": wheel_index,
            "PIP_CONFIG_FILE": os.devnull,
            "npm_config_offline": "true",
        },
        home=space.home,
    )


def give(path: Path, uid: int | None) -> None:
    """Hand a tree the test wrote (as root) to the build's user id, as an unpacked push is."""
    if uid is None:
        return
    for root, dirs, files in os.walk(path):
        for name in [*dirs, *files]:
            os.chown(os.path.join(root, name), uid, uid, follow_symlinks=False)
    os.chown(path, uid, uid)


@pytest.fixture
def new_app(space: sandboxing.Workspace) -> Callable[[dict[str, str]], Path]:
    """Make a fresh pushed tree from file name -> text, in the build's tree, owned by it."""
    made = 0

    def make(files: dict[str, str]) -> Path:
        nonlocal made
        made += 1
        app_dir = space.tree / f"app{made}"
        for name, text in files.items():
            path = app_dir / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        app_dir.mkdir(exist_ok=True)
        give(app_dir, space.uid)
        return app_dir

    return make


@dataclass
class Build:
    """Compiles apps in the test's sandbox, cache and environment."""

    space: sandboxing.Workspace
    sandbox: Sandbox
    env: dict[str, str]
    out: output.Output

    async def compile(
        self, app_dir: Path, *, python: str = "python3", env: dict[str, str] | None = None
    ) -> CompiledApp:
        return await compile_app(
            app_dir=app_dir,
            cache_dir=self.space.cache_dir,
            sandbox=self.sandbox,
            out=self.out,
            env=self.env if env is None else env,
            python=python,
        )


@pytest.fixture
def build(
    space: sandboxing.Workspace, sandbox: Sandbox, build_env: dict[str, str], out: output.Output
) -> Build:
    """`await build.compile(app_dir)`: compile as the builder does."""
    return Build(space=space, sandbox=sandbox, env=build_env, out=out)
