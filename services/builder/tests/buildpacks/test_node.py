import asyncio
import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from deis_builder.errors import BuildFailed
from deis_shared.sandbox import SYSTEM_PATH

NewApp = Callable[[dict[str, str]], Path]
INSTALLING = "-----> Installing dependencies"
UNCHANGED = "-----> Dependencies unchanged; reusing the cached node_modules"

needs_npm = pytest.mark.skipif(
    shutil.which("npm", path=SYSTEM_PATH) is None or shutil.which("node", path=SYSTEM_PATH) is None,
    reason="npm and node are not under /usr: the Node buildpack's installs cannot run",
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
    """Run the app's server.js from the slug, with the system's node, as the scheduler would."""
    metadata = json.loads((slug / ".deis/slug.json").read_text())
    path = metadata["env"]["PATH"].replace("$HOME", str(slug)).replace("$PATH", SYSTEM_PATH)
    done = await asyncio.to_thread(
        subprocess.run,
        ["node", "server.js"],
        cwd=slug,
        env={"PATH": path},
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


async def test_no_dependencies_means_no_npm_and_npm_start(
    new_app: NewApp, build, lines: list[str]
) -> None:
    app = new_app({"package.json": '{"name": "a", "devDependencies": {"jest": "*"}}'})
    compiled = await build.compile(app)
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
    build,
) -> None:
    app = new_app({"package.json": manifest})
    with pytest.raises(BuildFailed) as caught:
        await build.compile(app)
    assert str(caught.value) == reason


async def test_missing_npm_is_a_clear_failure(
    new_app: NewApp, build, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = new_app(GREET)
    real = shutil.which
    monkeypatch.setattr(
        shutil, "which", lambda name, **kw: None if name == "npm" else real(name, **kw)
    )
    with pytest.raises(BuildFailed) as caught:
        await build.compile(app)
    assert str(caught.value) == (
        "npm not found under /usr, where builds look (Debian: apt-get install nodejs npm)"
    )


@needs_npm
@pytest.mark.integration
@pytest.mark.timeout(120)
async def test_local_dependency_is_installed_then_reused(
    new_app: NewApp, build, lines: list[str]
) -> None:
    cache = build.space.cache_dir
    first = new_app(GREET)
    compiled = await build.compile(first)
    assert compiled.procfile == {"web": "npm start"}
    assert INSTALLING in lines
    assert (first / "node_modules/greet/package.json").is_file()
    assert await _node_in_slug(first) == "hello from greet"
    assert (cache / "node/node_modules").is_dir()

    lines.clear()
    second = new_app(GREET)
    await build.compile(second)
    assert UNCHANGED in lines
    assert INSTALLING not in lines
    assert await _node_in_slug(second) == "hello from greet"

    lines.clear()
    changed = json.dumps(
        {"name": "site", "version": "1.0.1", "dependencies": {"greet": "file:vendor/greet"}}
    )
    third = new_app({**GREET, "package.json": changed})
    await build.compile(third)
    assert INSTALLING in lines
    assert await _node_in_slug(third) == "hello from greet"


@needs_npm
@pytest.mark.integration
@pytest.mark.timeout(120)
async def test_a_failing_npm_fails_the_build(new_app: NewApp, build, lines: list[str]) -> None:
    # Offline with an empty cache: a registry package cannot be had.
    broken = json.dumps({"name": "site", "dependencies": {"left-pad": "1.3.0"}})
    app = new_app({"package.json": broken})
    with pytest.raises(BuildFailed, match=r"^npm install exited with code \d+$"):
        await build.compile(app)
    assert any("ENOTCACHED" in line for line in lines)
    assert not (build.space.cache_dir / "node/key").exists()
