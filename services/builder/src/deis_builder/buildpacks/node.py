"""The Node.js buildpack: `npm install` of an app's production dependencies into its slug.

npm runs in the slug itself, so `node_modules` lands where Node looks for it and its `.bin`
goes on the app's PATH. The installed `node_modules` is cached per app, keyed by
`package.json`, `package-lock.json` and `node --version`; an unchanged push copies it and runs
no npm. A push that carries its own `node_modules` is installed over every time, uncached,
since the key cannot see what it holds.

npm runs the packages' scripts (`preinstall`, `install`, `postinstall`, the app's own among
them): like every build step, it runs in the build's sandbox (`sandboxing`), with the system's
`node` and `npm` (Debian's `nodejs` and `npm`, under `/usr`, the only system tree a sandbox
sees).
"""

import json
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Final

from deis_builder.buildpacks import caching, output, running, sandboxing, sources
from deis_builder.errors import BuildFailed
from deis_shared import sandbox as sandboxes

NAME: Final = "node"
LABEL: Final = "Node.js app"
SLUG_ENV: Final = {"PATH": "$HOME/node_modules/.bin:$PATH"}
NO_TYPES: Final = "no process types: add a Procfile, e.g. 'web: node server.js'"
_INSTALLED = ("dependencies", "optionalDependencies")
"""The sections of package.json that `npm install --omit=dev` installs from."""
INSTALL: Final = "Debian: apt-get install nodejs npm"


def detects(app_dir: Path) -> bool:
    """Whether the push is a Node.js app: it has `package.json`."""
    return sources.present(app_dir / "package.json")


def default_types(*, python: str) -> dict[str, str]:  # noqa: ARG001 - one signature for all
    """`web: npm start`, which runs the `start` script (or `node server.js`)."""
    return {"web": "npm start"}


async def compile_slug(
    *,
    app_dir: Path,
    cache_dir: Path,
    sandbox: sandboxes.Sandbox,
    out: output.Output,
    env: Mapping[str, str],
    python: str,  # noqa: ARG001 - one signature for all
) -> None:
    """Install the app's production dependencies, from the cache when they are unchanged.

    Raises:
        BuildFailed: package.json is not a JSON object, npm or node is missing, or npm
            failed.
    """
    manifest = sources.read_bytes(app_dir / "package.json", app_dir=app_dir)
    if not _has_dependencies(manifest):
        await output.step(out, "No dependencies to install")
        return
    npm, node = _system("npm"), _system("node")
    version = (
        await running.capture([node, "--version"], sandbox=sandbox, cwd=app_dir, env=env)
    ).strip()
    await output.note(out, f"Using Node.js {version} ({node})")
    lock = app_dir / "package-lock.json"
    locked = sources.read_bytes(lock, app_dir=app_dir) if sources.present(lock) else b""
    modules = app_dir / "node_modules"
    pushed_modules = sources.present(modules)
    if modules.is_symlink():
        raise BuildFailed("node_modules is a symlink; push a directory or nothing")
    cache = caching.TreeCache(cache_dir / "node", "node_modules", sandbox=sandbox, env=env)
    key = caching.key_of(manifest, locked, version)
    if not pushed_modules and await cache.holds(key):
        await output.step(out, "Dependencies unchanged; reusing the cached node_modules")
        await cache.restore(into=modules, out=out)
        return
    await output.step(out, "Installing dependencies")
    if pushed_modules:
        await output.note(out, "The push carries node_modules: installing over it, uncached.")
    npm_env = {**env, "npm_config_update_notifier": "false"}
    await running.run(
        [
            npm,
            "install",
            "--omit=dev",
            "--no-audit",
            "--no-fund",
            "--cache",
            str(cache_dir / "npm"),
        ],
        sandbox=sandbox,
        cwd=app_dir,
        env=npm_env,
        out=out,
    )
    if not pushed_modules:
        await cache.store(key=key, source=modules, out=out)


def _system(program: str) -> str:
    """`program` on the sandbox's PATH, if it lies in the system's trees the sandbox sees.

    Raises:
        BuildFailed: it is not there.
    """
    found = shutil.which(program, path=sandboxes.SYSTEM_PATH)
    if found is None or not sandboxing.in_system(found):
        raise BuildFailed(f"{program} not found under /usr, where builds look ({INSTALL})")
    return found


def _has_dependencies(manifest: bytes) -> bool:
    try:
        data = json.loads(manifest)
    except ValueError as error:
        raise BuildFailed("package.json is not valid JSON") from error
    if not isinstance(data, dict):
        raise BuildFailed("package.json must hold a JSON object")
    return any(isinstance(data.get(name), dict) and data[name] for name in _INSTALLED)
