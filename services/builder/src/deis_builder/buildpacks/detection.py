"""Compiling a push into a slug: which buildpack fits, its process types, the slug's metadata.

`compile_app` is the one entry point. It picks the first buildpack whose marker file the push
holds: Python (`requirements.txt` or `pyproject.toml`), then Node.js (`package.json`), then a
static site (`index.html`). The buildpack compiles the tree in place; the repo's Procfile then
overrides the buildpack's default process types, type by type.

The slug is the compiled directory, tarred as it is. `.deis/` in it belongs to the builder (a
pushed `.deis/` is dropped) and holds the slug's metadata, `.deis/slug.json`, a contract with
the scheduler that runs the slug:

    {
      "schema": 1,
      "buildpack": "python",                      # "python" | "node" | "static"
      "process_types": {"web": "gunicorn app:app"},   # type -> command, run by a shell
      "env": {                                    # to set for every process of the app
        "PYTHONPATH": "$HOME/.deis/python",
        "PATH": "$HOME/.deis/python/bin:$PATH"
      }
    }

In `env` values, `$HOME` stands for the directory the slug is unpacked into (the processes'
working directory) and `$PATH` for the PATH the process would otherwise inherit; no other
expansion happens. Per buildpack, `env` is:

    python   PYTHONPATH=$HOME/.deis/python, PATH=$HOME/.deis/python/bin:$PATH
    node     PATH=$HOME/node_modules/.bin:$PATH
    static   (nothing)

A Python slug runs on the builder's interpreter: `.deis/python/bin/python` and `python3` are
symlinks to its absolute path, so the scheduler's hosts must have that same interpreter there.
Commands use `$PORT` for the port a web process listens on.
"""

import json
import shutil
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Protocol

from deis_builder.buildpacks import node, output, python as python_pack, sources, static
from deis_builder.domain import procfiles
from deis_builder.errors import BuildFailed

SLUG_SCHEMA: Final = 1
METADATA_DIR: Final = ".deis"
LOOKED_FOR: Final = (
    "requirements.txt or pyproject.toml (Python), package.json (Node), index.html (static site)"
)


class _Compile(Protocol):
    def __call__(
        self,
        *,
        app_dir: Path,
        cache_dir: Path,
        out: output.Output,
        env: Mapping[str, str],
        python: str,
    ) -> Awaitable[None]: ...


@dataclass(frozen=True)
class _Buildpack:
    name: str
    label: str
    detects: Callable[[Path], bool]
    default_types: Callable[..., dict[str, str]]
    compile_slug: _Compile
    slug_env: Mapping[str, str]
    no_types: str


_BUILDPACKS: Final = tuple(
    _Buildpack(
        name=pack.NAME,
        label=pack.LABEL,
        detects=pack.detects,
        default_types=pack.default_types,
        compile_slug=pack.compile_slug,
        slug_env=pack.SLUG_ENV,
        no_types=pack.NO_TYPES,
    )
    for pack in (python_pack, node, static)
)


@dataclass(frozen=True)
class CompiledApp:
    """What a compile made of a push."""

    buildpack: str
    """The buildpack that compiled it: "python", "node" or "static"."""
    procfile: dict[str, str]
    """Process type to command: the repo's Procfile, over the buildpack's defaults."""


async def compile_app(
    *,
    app_dir: Path,
    cache_dir: Path,
    out: output.Output,
    env: Mapping[str, str],
    python: str = "python3",
) -> CompiledApp:
    """Compile a pushed tree in place into a slug directory, with `.deis/slug.json` in it.

    Args:
        app_dir: the pushed source; afterwards, the slug directory.
        cache_dir: this app's own cache, kept between builds (created when missing).
        out: where build output goes, line by line.
        env: the environment every build command starts from (copied, never changed).
        python: the interpreter command that installs Python dependencies and runs the app,
            looked up on `env["PATH"]`.

    Returns:
        The buildpack used and the app's process types.

    Raises:
        BuildFailed: no buildpack fits, the Procfile is invalid or missing where needed, or a
            build step failed; the message is one line for the pushing user.
    """
    await _drop_pushed_metadata(app_dir, out=out)
    declared = _read_procfile(app_dir)
    buildpack = _detect(app_dir, has_procfile=declared is not None)
    await output.step(out, f"{buildpack.label} detected")
    defaults = buildpack.default_types(python=python)
    types = {**defaults, **(declared or {})}
    if not types:
        raise BuildFailed(buildpack.no_types)
    cache_dir.mkdir(parents=True, exist_ok=True)
    await buildpack.compile_slug(
        app_dir=app_dir, cache_dir=cache_dir, out=out, env=dict(env), python=python
    )
    await output.step(out, "Discovering process types")
    if declared:
        await output.note(out, f"Procfile declares types -> {', '.join(declared)}")
    if inherited := [name for name in defaults if name not in (declared or {})]:
        await output.note(out, f"Default types for {buildpack.name} -> {', '.join(inherited)}")
    _write_metadata(app_dir, buildpack=buildpack, types=types)
    return CompiledApp(buildpack=buildpack.name, procfile=types)


def _detect(app_dir: Path, *, has_procfile: bool) -> _Buildpack:
    for buildpack in _BUILDPACKS:
        if buildpack.detects(app_dir):
            return buildpack
    if has_procfile:
        raise BuildFailed(
            f"no buildpack detected: a Procfile alone is not enough; looked for {LOOKED_FOR}"
        )
    raise BuildFailed(f"no buildpack detected: looked for {LOOKED_FOR}")


def _read_procfile(app_dir: Path) -> dict[str, str] | None:
    path = app_dir / "Procfile"
    if not sources.present(path):
        return None
    return procfiles.parse_procfile(sources.read_text(path, app_dir=app_dir))


async def _drop_pushed_metadata(app_dir: Path, *, out: output.Output) -> None:
    path = app_dir / METADATA_DIR
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)
    else:
        return
    await output.note(out, f"Ignoring the pushed {METADATA_DIR}/: the builder owns it")


def _write_metadata(app_dir: Path, *, buildpack: _Buildpack, types: dict[str, str]) -> None:
    metadata = {
        "schema": SLUG_SCHEMA,
        "buildpack": buildpack.name,
        "process_types": types,
        "env": dict(buildpack.slug_env),
    }
    path = app_dir / METADATA_DIR / "slug.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(metadata, indent=2) + "\n")
