import asyncio
import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from deis_builder.buildpacks import sandboxing
from deis_builder.errors import BuildFailed
from deis_shared.sandbox import SYSTEM_PATH, Mount, Sandbox, confine

NewApp = Callable[[dict[str, str]], Path]
AddWheel = Callable[..., Path]
PROCFILE = "web: python -m greet\n"
INSTALLING = "-----> Installing requirements"
UNCHANGED = "-----> Requirements unchanged; reusing the cached dependencies"
APP_HOME = "/app"


async def _run_in_slug(slug: Path, code: str, *, uid: int | None) -> str:
    """Run `python -c code` the way the scheduler will: in an app's sandbox, the slug
    read-only at /app, its env, as a user id that is not root."""
    metadata = json.loads((slug / ".deis" / "slug.json").read_text())
    env = {"PATH": SYSTEM_PATH, "HOME": APP_HOME}
    for name, value in metadata["env"].items():
        env[name] = value.replace("$HOME", APP_HOME).replace("$PATH", SYSTEM_PATH)
    confined = confine(
        ["python", "-c", code],
        Sandbox(uid=uid, mounts=(Mount(slug, APP_HOME),), workdir=APP_HOME, hostname="app"),
    )
    done = await asyncio.to_thread(
        subprocess.run,
        confined.argv,
        user=confined.uid,
        group=confined.gid,
        extra_groups=[] if confined.uid is not None else None,
        cwd="/",
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.mark.integration
@pytest.mark.timeout(120)
async def test_requirements_are_installed_then_reused_then_reinstalled(
    new_app: NewApp, add_wheel: AddWheel, build, space: sandboxing.Workspace, lines: list[str]
) -> None:
    add_wheel("greet", "1.0")
    add_wheel("other", "2.0")
    files = {"requirements.txt": "greet==1.0\n", "Procfile": PROCFILE, "app.py": ""}

    first = new_app(files)
    compiled = await build.compile(first)
    assert compiled.buildpack == "python"
    assert compiled.procfile == {"web": "python -m greet"}
    assert "-----> Python app detected" in lines
    assert INSTALLING in lines
    assert any("Successfully installed greet-1.0" in line for line in lines)
    assert (first / ".deis/python/greet/__init__.py").is_file()
    hello = "import greet; print(greet.hello())"
    assert await _run_in_slug(first, hello, uid=space.uid) == "greet 1.0"

    lines.clear()
    second = new_app(files)
    await build.compile(second)
    assert UNCHANGED in lines
    assert INSTALLING not in lines
    assert not any("Successfully installed" in line or "Processing" in line for line in lines)
    assert await _run_in_slug(second, hello, uid=space.uid) == "greet 1.0"

    lines.clear()
    third = new_app({**files, "requirements.txt": "greet==1.0\nother==2.0\n"})
    await build.compile(third)
    assert INSTALLING in lines
    assert UNCHANGED not in lines
    assert any("Successfully installed" in line for line in lines)
    other = "import other; print(other.hello())"
    assert await _run_in_slug(third, other, uid=space.uid) == "other 2.0"

    lines.clear()
    fourth = new_app({**files, "requirements.txt": "greet==1.0\nother==2.0\n"})
    await build.compile(fourth)
    assert UNCHANGED in lines
    assert await _run_in_slug(fourth, other, uid=space.uid) == "other 2.0"


@pytest.mark.integration
@pytest.mark.timeout(120)
async def test_pyproject_dependencies_are_installed(
    new_app: NewApp, add_wheel: AddWheel, build, lines: list[str]
) -> None:
    add_wheel("greet", "1.0")
    add_wheel("other", "2.0")
    pyproject = '[project]\nname = "app"\nversion = "0"\ndependencies = ["greet>=1", "other"]\n'
    app = new_app({"pyproject.toml": pyproject, "Procfile": PROCFILE})
    await build.compile(app)
    assert INSTALLING in lines
    assert (app / ".deis/python/greet").is_dir()
    assert (app / ".deis/python/other").is_dir()


@pytest.mark.integration
@pytest.mark.timeout(120)
async def test_requirements_pointing_at_other_files_are_not_cached(
    new_app: NewApp, add_wheel: AddWheel, build, lines: list[str]
) -> None:
    add_wheel("greet", "1.0")
    files = {"requirements.txt": "-r base.txt\n", "base.txt": "greet\n", "Procfile": PROCFILE}
    for _ in range(2):
        lines.clear()
        app = new_app(files)
        await build.compile(app)
        assert INSTALLING in lines
        assert (app / ".deis/python/greet").is_dir()


@pytest.mark.integration
@pytest.mark.timeout(120)
async def test_a_failing_pip_fails_the_build(
    new_app: NewApp, build, space: sandboxing.Workspace, lines: list[str]
) -> None:
    app = new_app({"requirements.txt": "nowhere-to-be-found==1.0\n", "Procfile": PROCFILE})
    with pytest.raises(BuildFailed, match=r" -m pip install exited with code 1$"):
        await build.compile(app)
    assert any("nowhere-to-be-found" in line for line in lines)
    assert not (space.cache_dir / "python" / "key").exists()


async def test_no_dependencies_means_no_pip_and_a_system_interpreter_is_linked(
    new_app: NewApp, build, space: sandboxing.Workspace, lines: list[str]
) -> None:
    app = new_app({"requirements.txt": "# nothing yet\n\n", "Procfile": PROCFILE})
    await build.compile(app)
    assert "-----> No requirements to install" in lines
    assert INSTALLING not in lines
    assert any(line.endswith("(/usr/bin/python3)") for line in lines), lines
    code = "import os, sys; print(os.path.realpath(sys.executable))"
    executable = await _run_in_slug(app, code, uid=space.uid)
    for name in ("python", "python3"):
        link = app / ".deis/python/bin" / name
        assert link.is_symlink()
        assert os.readlink(link) == "/usr/bin/python3"
    assert executable == os.path.realpath("/usr/bin/python3")


async def test_pyproject_without_dependencies_installs_nothing(
    new_app: NewApp, build, lines: list[str]
) -> None:
    app = new_app({"pyproject.toml": '[project]\nname = "app"\n', "Procfile": PROCFILE})
    await build.compile(app)
    assert "-----> No requirements to install" in lines
    metadata = json.loads((app / ".deis/slug.json").read_text())
    assert metadata == {
        "schema": 1,
        "buildpack": "python",
        "process_types": {"web": "python -m greet"},
        "env": {"PYTHONPATH": "$HOME/.deis/python", "PATH": "$HOME/.deis/python/bin:$PATH"},
    }


@pytest.mark.parametrize(
    ("pyproject", "reason"),
    [
        ("[project\n", "pyproject.toml is not valid TOML: "),
        ('[project]\ndependencies = "greet"\n', "pyproject.toml: [project].dependencies must"),
        ('[project]\ndependencies = ["--index-url=x"]\n', "pyproject.toml: [project].depend"),
    ],
)
async def test_bad_pyproject_fails_the_build(
    pyproject: str, reason: str, new_app: NewApp, build
) -> None:
    app = new_app({"pyproject.toml": pyproject, "Procfile": PROCFILE})
    with pytest.raises(BuildFailed) as caught:
        await build.compile(app)
    assert str(caught.value).startswith(reason)
    assert "\n" not in str(caught.value)


async def test_a_virtualenv_is_refused_though_it_links_into_usr(
    new_app: NewApp, build, space: sandboxing.Workspace
) -> None:
    # Its python leads to /usr/bin/python3, but an app's sandbox would not have the venv.
    venv = space.tree / "bare"
    app = new_app({"requirements.txt": "greet\n", "Procfile": PROCFILE})
    await asyncio.to_thread(
        subprocess.run, ["/usr/bin/python3", "-m", "venv", "--without-pip", str(venv)], check=True
    )
    with pytest.raises(BuildFailed) as caught:
        await build.compile(app, python=str(venv / "bin" / "python"))
    assert "is outside /usr" in str(caught.value)


async def test_a_python_outside_usr_is_refused_with_what_to_install(new_app: NewApp, build) -> None:
    app = new_app({"requirements.txt": "greet\n", "Procfile": PROCFILE})
    with pytest.raises(BuildFailed) as caught:
        await build.compile(app, python="/root/.pyenv/versions/3.11.9/bin/python3")
    assert str(caught.value) == (
        "the builder's Python, /root/.pyenv/versions/3.11.9/bin/python3, is outside /usr, the"
        " only system tree builds and apps see: name one under /usr (DEIS_PYTHON), or unset it"
        " and install one (Debian: apt-get install python3 python3-pip python3-venv)"
    )


async def test_a_missing_interpreter_is_a_clear_failure(new_app: NewApp, build) -> None:
    app = new_app({"requirements.txt": "greet\n", "Procfile": PROCFILE})
    with pytest.raises(BuildFailed) as caught:
        await build.compile(app, python="python9.99")
    assert str(caught.value) == (
        "no Python (python9.99) that builds and apps can run: they see only /usr of the system"
        " (Debian: apt-get install python3 python3-pip python3-venv)"
    )
