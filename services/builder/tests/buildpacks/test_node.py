import asyncio
import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from deis_builder.buildpacks import output
from deis_builder.buildpacks.detection import compile_app
from deis_builder.errors import BuildFailed

NewApp = Callable[[dict[str, str]], Path]
INSTALLING = "-----> Installing dependencies"
UNCHANGED = "-----> Dependencies unchanged; reusing the cached node_modules"

needs_npm = pytest.mark.skipif(
    shutil.which("npm") is None or shutil.which("node") is None,
    reason="npm and node are not on PATH: the Node buildpack's installs cannot run",
)

GREET = {
    "package.json": json.dumps(
        {"name": "site", "version": "1.0.0", "dependencies": {"greet": "file:vendor/greet"}}
    ),
    "vendor/greet/package.json": json.dumps(
        {"name": "greet", "version": "1.0.0", "main": "index.js"}
    ),
    "vendor/greet/index.js": "exports.hello = () => 'hello from greet';\n",
    "server.js": "console.log(require('greet').hello());\n",
}


async def _node_in_slug(slug: Path) -> str:
    """Run the app's server.js from the slug, as the scheduler would."""
    metadata = json.loads((slug / ".deis/slug.json").read_text())
    path = metadata["env"]["PATH"].replace("$HOME", str(slug)).replace("$PATH", os.defpath)
    node = shutil.which("node")
    assert node is not None
    done = await asyncio.to_thread(
        subprocess.run,
        [node, "server.js"],
        cwd=slug,
        env={"PATH": path},
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


async def test_no_dependencies_means_no_npm_and_npm_start(
    new_app: NewApp, build_env: dict[str, str], tmp_path: Path, out: output.Output, lines: list[str]
) -> None:
    app = new_app({"package.json": '{"name": "a", "devDependencies": {"jest": "*"}}'})
    compiled = await compile_app(app_dir=app, cache_dir=tmp_path / "cache", out=out, env=build_env)
    assert compiled.buildpack == "node"
    assert compiled.procfile == {"web": "npm start"}
    assert lines == [
        "-----> Node.js app detected",
        "-----> No dependencies to install",
        "-----> Discovering process types",
        "       Default types for node -> web",
    ]
    assert not (app / "node_modules").exists()
    metadata = json.loads((app / ".deis/slug.json").read_text())
    assert metadata == {
        "schema": 1,
        "buildpack": "node",
        "process_types": {"web": "npm start"},
        "env": {"PATH": "$HOME/node_modules/.bin:$PATH"},
    }


@pytest.mark.parametrize(
    ("manifest", "reason"),
    [("{", "package.json is not valid JSON"), ("[]", "package.json must hold a JSON object")],
)
async def test_bad_package_json_fails_the_build(
    manifest: str,
    reason: str,
    new_app: NewApp,
    build_env: dict[str, str],
    tmp_path: Path,
    out: output.Output,
) -> None:
    app = new_app({"package.json": manifest})
    with pytest.raises(BuildFailed) as caught:
        await compile_app(app_dir=app, cache_dir=tmp_path / "cache", out=out, env=build_env)
    assert str(caught.value) == reason


async def test_missing_npm_is_a_clear_failure(
    new_app: NewApp, build_env: dict[str, str], tmp_path: Path, out: output.Output
) -> None:
    app = new_app(GREET)
    env = {**build_env, "PATH": str(tmp_path / "empty-bin")}
    with pytest.raises(BuildFailed, match=r"^npm not found on the builder's PATH$"):
        await compile_app(app_dir=app, cache_dir=tmp_path / "cache", out=out, env=env)


@needs_npm
@pytest.mark.integration
@pytest.mark.timeout(120)
async def test_local_dependency_is_installed_then_reused(
    new_app: NewApp, build_env: dict[str, str], tmp_path: Path, out: output.Output, lines: list[str]
) -> None:
    cache = tmp_path / "cache"
    first = new_app(GREET)
    compiled = await compile_app(app_dir=first, cache_dir=cache, out=out, env=build_env)
    assert compiled.procfile == {"web": "npm start"}
    assert INSTALLING in lines
    assert (first / "node_modules/greet/package.json").is_file()
    assert await _node_in_slug(first) == "hello from greet"
    assert (cache / "node/node_modules").is_dir()

    lines.clear()
    second = new_app(GREET)
    await compile_app(app_dir=second, cache_dir=cache, out=out, env=build_env)
    assert UNCHANGED in lines
    assert INSTALLING not in lines
    assert await _node_in_slug(second) == "hello from greet"

    lines.clear()
    changed = json.dumps(
        {"name": "site", "version": "1.0.1", "dependencies": {"greet": "file:vendor/greet"}}
    )
    third = new_app({**GREET, "package.json": changed})
    await compile_app(app_dir=third, cache_dir=cache, out=out, env=build_env)
    assert INSTALLING in lines
    assert await _node_in_slug(third) == "hello from greet"


@needs_npm
@pytest.mark.integration
@pytest.mark.timeout(120)
async def test_a_failing_npm_fails_the_build(
    new_app: NewApp, build_env: dict[str, str], tmp_path: Path, out: output.Output, lines: list[str]
) -> None:
    # Offline with an empty cache: a registry package cannot be had.
    broken = json.dumps({"name": "site", "dependencies": {"left-pad": "1.3.0"}})
    app = new_app({"package.json": broken})
    with pytest.raises(BuildFailed, match=r"^npm install exited with code \d+$"):
        await compile_app(app_dir=app, cache_dir=tmp_path / "cache", out=out, env=build_env)
    assert any("ENOTCACHED" in line for line in lines)
    assert not (tmp_path / "cache/node/key").exists()
