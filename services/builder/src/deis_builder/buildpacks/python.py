"""The Python buildpack: an app's requirements installed with pip into `.deis/python` of its slug.

Requirements come from `requirements.txt`, else from `pyproject.toml`'s `[project].dependencies`
(the project itself is not installed: the slug runs it from its source tree). pip installs them
with `--target`, so the slug carries its own packages and runs on the system's interpreter
with `PYTHONPATH=$HOME/.deis/python`. `.deis/python/bin/python` and `python3` link to that
interpreter, so a Procfile's `python app.py` works on hosts that only have `python3`.

The interpreter is the system's, found inside the build's sandbox, which sees only `/usr` of
the system, as the apps' sandboxes do: the first `python3` on the sandbox's PATH that has pip
(Debian's `/usr/bin/python3` with `python3-pip`), or the `python` setting, which must lie under
`/usr` too. Never one under the builder's home: an app running as a user of its own could not
run it. pip runs as the build's user, with `--target`, which Debian's "externally managed"
rule leaves alone.

The installed tree is cached per app, keyed by the requirements' text and the interpreter; an
unchanged push copies it and runs no pip. Requirements that reach outside their own text (`-r
other.txt`, local paths, version control) are installed every time, since their key would not
see a change. Unpinned requirements stay at what was first installed until the text changes,
as on Heroku.

pip runs as `python -I -m pip`: isolated mode keeps the pushed tree (the working directory) off
`sys.path`, so that an app's own `pip/` folder cannot stand in for pip.
"""

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from deis_builder.buildpacks import caching, output, running, sandboxing, sources, writing
from deis_builder.errors import BuildFailed
from deis_shared import sandbox as sandboxes

NAME: Final = "python"
LABEL: Final = "Python app"
SLUG_ENV: Final = {"PYTHONPATH": "$HOME/.deis/python", "PATH": "$HOME/.deis/python/bin:$PATH"}
NO_TYPES: Final = "no Procfile: a Python app needs one, e.g. 'web: gunicorn app:app'"
SITE: Final = Path(".deis", "python")
"""Where the slug's packages go, relative to the slug."""
INSTALL: Final = "Debian: apt-get install python3 python3-pip python3-venv"
"""What gives builds and apps a Python they can run."""

_PROBE = (
    "import importlib.util, sys\n"
    "print(sys.executable)\n"
    "print(sys.version.replace('\\n', ' '))\n"
    "print(importlib.util.find_spec('pip') is not None)\n"
)
_COMMENT = re.compile(r"(^|\s)#.*$")
_ELSEWHERE = re.compile(
    r"^(-r|--requirement|-c|--constraint|-e|--editable|\.|/|~)|file:|git\+|hg\+|svn\+|bzr\+"
)


@dataclass(frozen=True)
class Interpreter:
    """The Python that installs the requirements and later runs the app."""

    command: str
    """Its path, as found on the sandbox's PATH (or as the `python` setting gives it)."""
    executable: str
    """Its own idea of its path (`sys.executable`): what the slug's `python` links to."""
    version: str
    """`sys.version`, on one line."""
    has_pip: bool


@dataclass(frozen=True)
class Requirements:
    """What to install, and whether its text alone decides the result."""

    text: str
    file: Path | None
    """`requirements.txt`, or None when the text comes from `pyproject.toml`."""
    cacheable: bool


def detects(app_dir: Path) -> bool:
    """Whether the push is a Python app: it has `requirements.txt` or `pyproject.toml`."""
    return any(sources.present(app_dir / name) for name in ("requirements.txt", "pyproject.toml"))


def default_types(*, python: str) -> dict[str, str]:  # noqa: ARG001 - one signature for all
    """No defaults: there is no way to guess how a Python app starts."""
    return {}


async def compile_slug(
    *,
    app_dir: Path,
    cache_dir: Path,
    sandbox: sandboxes.Sandbox,
    out: output.Output,
    env: Mapping[str, str],
    python: str,
) -> None:
    """Install the app's requirements into its slug, from the cache when they are unchanged.

    Raises:
        BuildFailed: no interpreter the sandbox can run, or it has no pip, the requirements
            cannot be read, or pip failed.
    """
    requirements = _requirements(app_dir)
    interpreter = await _probe(python, sandbox=sandbox, cwd=app_dir, env=env)
    await output.note(
        out, f"Using Python {interpreter.version.partition(' ')[0]} ({interpreter.command})"
    )
    site = app_dir / SITE
    if requirements is None:
        await output.step(out, "No requirements to install")
    else:
        cache = caching.TreeCache(cache_dir / "python", "site", sandbox=sandbox, env=env)
        key = caching.key_of(requirements.text, interpreter.version, interpreter.executable)
        if requirements.cacheable and await cache.holds(key):
            await output.step(out, "Requirements unchanged; reusing the cached dependencies")
            await cache.restore(into=site, out=out)
        else:
            await output.step(out, "Installing requirements")
            if not requirements.cacheable:
                await output.note(out, "They refer to other files or to version control,")
                await output.note(out, "so they are installed afresh on every push.")
            await _pip_install(
                requirements,
                interpreter=interpreter,
                site=site,
                cache_dir=cache_dir,
                sandbox=sandbox,
                env=env,
                app_dir=app_dir,
                out=out,
            )
            if requirements.cacheable:
                await cache.store(key=key, source=site, out=out)
    await writing.symlink(
        site / "bin",
        ("python", "python3"),
        target=interpreter.executable,
        sandbox=sandbox,
        env=env,
        out=out,
    )


async def _probe(
    python: str, *, sandbox: sandboxes.Sandbox, cwd: Path, env: Mapping[str, str]
) -> Interpreter:
    """The first program `python` names that answers in the sandbox with pip, else without.

    Raises:
        BuildFailed: `python` is a path outside the sandbox, or nothing it names answers.
    """
    if os.sep in python and not sandboxing.in_system(python):
        raise BuildFailed(
            f"the builder's Python, {python}, is outside /usr, the only system tree builds and"
            f" apps see: name one under /usr (DEIS_PYTHON), or unset it and install one ({INSTALL})"
        )
    found: list[Interpreter] = []
    for command in _candidates(python):
        try:
            answer = await running.capture(
                [command, "-I", "-c", _PROBE], sandbox=sandbox, cwd=cwd, env=env
            )
        except BuildFailed:
            continue
        lines = answer.splitlines()
        if len(lines) < 3:
            continue
        executable, version, pip = lines[-3:]
        interpreter = Interpreter(
            command=command,
            executable=executable if sandboxing.in_system(executable) else command,
            version=version,
            has_pip=pip == "True",
        )
        if interpreter.has_pip:
            return interpreter
        found.append(interpreter)
    if not found:
        raise BuildFailed(
            f"no Python ({python}) that builds and apps can run: they see only /usr of the"
            f" system ({INSTALL})"
        )
    return found[0]


def _candidates(python: str) -> list[str]:
    """What `python` names inside the sandbox, in the order of its PATH, once per program."""
    if os.sep in python:
        return [python]
    found: dict[str, str] = {}
    for directory in sandboxes.SYSTEM_PATH.split(os.pathsep):
        candidate = os.path.join(directory, python)
        if os.access(candidate, os.X_OK) and not os.path.isdir(candidate):
            found.setdefault(os.path.realpath(candidate), candidate)
    return [command for command in found.values() if sandboxing.in_system(command)]


async def _pip_install(
    requirements: Requirements,
    *,
    interpreter: Interpreter,
    site: Path,
    cache_dir: Path,
    sandbox: sandboxes.Sandbox,
    env: Mapping[str, str],
    app_dir: Path,
    out: output.Output,
) -> None:
    if not interpreter.has_pip:
        raise BuildFailed(f"{interpreter.command} has no pip: install it ({INSTALL})")
    file = requirements.file
    if file is None:
        file = cache_dir / "python" / "pyproject-requirements.txt"
        await writing.write_file(
            file, requirements.text.encode(), sandbox=sandbox, env=env, out=out
        )
    await running.run(
        [
            interpreter.command,
            "-I",
            "-m",
            "pip",
            "install",
            "--target",
            str(site),
            "--no-input",
            "--disable-pip-version-check",
            "--cache-dir",
            str(cache_dir / "pip"),
            "-r",
            str(file),
        ],
        sandbox=sandbox,
        cwd=app_dir,
        env=env,
        out=out,
    )


def _requirements(app_dir: Path) -> Requirements | None:
    """What the app asks to install; None when it asks for nothing."""
    path = app_dir / "requirements.txt"
    if sources.present(path):
        text, file = sources.read_text(path, app_dir=app_dir), path
    else:
        text, file = _pyproject_requirements(app_dir), None
    lines = [_COMMENT.sub("", line).strip() for line in text.splitlines()]
    lines = [line for line in lines if line]
    if not lines:
        return None
    return Requirements(
        text=text,
        file=file,
        cacheable=not any(_ELSEWHERE.search(line) for line in lines),
    )


def _pyproject_requirements(app_dir: Path) -> str:
    """`[project].dependencies` of `pyproject.toml`, as requirements-file text."""
    try:
        data = tomllib.loads(sources.read_text(app_dir / "pyproject.toml", app_dir=app_dir))
    except tomllib.TOMLDecodeError as error:
        reason = str(error).splitlines()[0] if str(error) else "syntax error"
        raise BuildFailed(f"pyproject.toml is not valid TOML: {reason}") from error
    project = data.get("project", {})
    dependencies = project.get("dependencies", []) if isinstance(project, dict) else None
    if not isinstance(dependencies, list) or not all(
        isinstance(d, str)
        and d.strip()
        and not d.lstrip().startswith("-")
        and "\n" not in d
        and "\r" not in d
        for d in dependencies
    ):
        raise BuildFailed("pyproject.toml: [project].dependencies must be a list of requirements")
    return "".join(f"{dependency}\n" for dependency in dependencies)
