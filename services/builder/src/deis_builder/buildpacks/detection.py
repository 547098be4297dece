"""Compiling a push into a slug: which buildpack fits, its process types, the slug's metadata.

`compile_app` is the one entry point. It picks the first buildpack whose marker file the push
holds: Python (`requirements.txt` or `pyproject.toml`), then Node.js (`package.json`), then a
static site (`index.html`). The buildpack compiles the tree in place; the repo's Procfile then
overrides the buildpack's default process types, type by type.

The slug is the compiled directory, tarred as it is. `.deis/` in it belongs to the builder (a
pushed `.deis/` is dropped) and holds the slug's manifest, `.deis/slug.json`, a contract with
the scheduler that runs the slug: its format, and `$HOME` and `$PATH` in `env` values, are
`deis_shared.slugs`'s. Per buildpack, `env` is:

    python   PYTHONPATH=$HOME/.deis/python, PATH=$HOME/.deis/python/bin:$PATH
    node     PATH=$HOME/node_modules/.bin:$PATH
    static   (nothing)

A Python slug runs on the system's interpreter: `.deis/python/bin/python` and `python3` are
symlinks to its absolute path under `/usr`, so the scheduler's hosts must have that same
interpreter there (and apps' sandboxes see it). Commands use `$PORT` for the port a web
process listens on.

The compile runs in the build's sandbox (`sandboxing`): `.deis/` is removed and written by
sandboxed commands (`writing`), never by the builder following a path through the tree.
"""

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Protocol

from deis_builder.buildpacks import (
    node,
    output,
    python as python_pack,
    sources,
    static,
    writing,
)
from deis_builder.domain import procfiles
from deis_builder.errors import BuildFailed
from deis_shared import slugs
from deis_shared.sandbox import Sandbox

LOOKED_FOR: Final = (
    "requirements.txt or pyproject.toml (Python), package.json (Node), index.html (static site)"
)


class _Compile(Protocol):
    def __call__(
        self,
        *,
        app_dir: Path,
        cache_dir: Path,
        sandbox: Sandbox,
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
    sandbox: Sandbox,
    out: output.Output,
    env: Mapping[str, str],
    python: str = "python3",
) -> CompiledApp:
    """Compile a pushed tree in place into a slug directory, with `.deis/slug.json` in it.

    Args:
        app_dir: the pushed source; afterwards, the slug directory. It is the build's, as
            `sandboxing.prepare` made it.
        cache_dir: this app's own cache, kept between builds, the build's too.
        sandbox: the build's sandbox, where `app_dir` and `cache_dir` are mounted writable;
            every command of the compile runs in it.
        out: where build output goes, line by line.
        env: the environment every build command starts from (`sandboxing.environment`;
            copied, never changed).
        python: the interpreter command that installs Python dependencies and runs the app,
            looked up in the sandbox (under `/usr`).

    Returns:
        The buildpack used and the app's process types.

    Raises:
        BuildFailed: no buildpack fits, the Procfile is invalid or missing where needed, or a
            build step failed; the message is one line for the pushing user.
    """
    env = dict(env)
    await _drop_pushed_metadata(app_dir, sandbox=sandbox, env=env, out=out)
    declared = _read_procfile(app_dir)
    buildpack = _detect(app_dir, has_procfile=declared is not None)
    await output.step(out, f"{buildpack.label} detected")
    defaults = buildpack.default_types(python=python)
    types = {**defaults, **(declared or {})}
    if not types:
        raise BuildFailed(buildpack.no_types)
    await buildpack.compile_slug(
        app_dir=app_dir, cache_dir=cache_dir, sandbox=sandbox, out=out, env=env, python=python
    )
    await output.step(out, "Discovering process types")
    if declared:
        await output.note(out, f"Procfile declares types -> {', '.join(declared)}")
    if inherited := [name for name in defaults if name not in (declared or {})]:
        await output.note(out, f"Default types for {buildpack.name} -> {', '.join(inherited)}")
    await _write_metadata(
        app_dir, buildpack=buildpack, types=types, sandbox=sandbox, env=env, out=out
    )
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


async def _drop_pushed_metadata(
    app_dir: Path, *, sandbox: Sandbox, env: Mapping[str, str], out: output.Output
) -> None:
    path = app_dir / slugs.METADATA_DIR
    if not sources.present(path):
        return
    await writing.remove(path, sandbox=sandbox, env=env, out=out)
    await output.note(out, f"Ignoring the pushed {slugs.METADATA_DIR}/: the builder owns it")


async def _write_metadata(
    app_dir: Path,
    *,
    buildpack: _Buildpack,
    types: dict[str, str],
    sandbox: Sandbox,
    env: Mapping[str, str],
    out: output.Output,
) -> None:
    manifest = slugs.SlugManifest(
        buildpack=buildpack.name, process_types=types, env=dict(buildpack.slug_env)
    )
    path = app_dir / slugs.MANIFEST
    await writing.write_file(path, slugs.dump(manifest), sandbox=sandbox, env=env, out=out)
