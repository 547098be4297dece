import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from deis_builder.buildpacks import output, python
from deis_builder.buildpacks.detection import compile_app
from deis_builder.errors import BuildFailed

NewApp = Callable[[dict[str, str]], Path]
AddWheel = Callable[..., Path]
PROCFILE = "web: python -m greet\n"
INSTALLING = "-----> Installing requirements"
UNCHANGED = "-----> Requirements unchanged; reusing the cached dependencies"


async def _run_in_slug(slug: Path, code: str) -> str:
    """Run `python -c code` the way the scheduler will: the slug's env, from the slug."""
    metadata = json.loads((slug / ".deis" / "slug.json").read_text())
    env = {"PATH": os.defpath}
    for name, value in metadata["env"].items():
        env[name] = value.replace("$HOME", str(slug)).replace("$PATH", os.defpath)
    done = await asyncio.to_thread(
        subprocess.run,
        ["python", "-c", code],
        cwd=slug,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


@pytest.mark.integration
@pytest.mark.timeout(120)
async def test_requirements_are_installed_then_reused_then_reinstalled(
    new_app: NewApp,
    add_wheel: AddWheel,
    pip_python: str,
    build_env: dict[str, str],
    tmp_path: Path,
    out: output.Output,
    lines: list[str],
) -> None:
    add_wheel("greet", "1.0")
    add_wheel("other", "2.0")
    cache = tmp_path / "cache"
    files = {"requirements.txt": "greet==1.0\n", "Procfile": PROCFILE, "app.py": ""}

    first = new_app(files)
    compiled = await compile_app(
        app_dir=first, cache_dir=cache, out=out, env=build_env, python=pip_python
    )
    assert compiled.buildpack == "python"
    assert compiled.procfile == {"web": "python -m greet"}
    assert "-----> Python app detected" in lines
    assert INSTALLING in lines
    assert any("Successfully installed greet-1.0" in line for line in lines)
    assert (first / ".deis/python/greet/__init__.py").is_file()
    assert await _run_in_slug(first, "import greet; print(greet.hello())") == "greet 1.0"

    lines.clear()
    second = new_app(files)
    await compile_app(app_dir=second, cache_dir=cache, out=out, env=build_env, python=pip_python)
    assert UNCHANGED in lines
    assert INSTALLING not in lines
    assert not any("Successfully installed" in line or "Processing" in line for line in lines)
    assert await _run_in_slug(second, "import greet; print(greet.hello())") == "greet 1.0"

    lines.clear()
    third = new_app({**files, "requirements.txt": "greet==1.0\nother==2.0\n"})
    await compile_app(app_dir=third, cache_dir=cache, out=out, env=build_env, python=pip_python)
    assert INSTALLING in lines
    assert UNCHANGED not in lines
    assert any("Successfully installed" in line for line in lines)
    assert await _run_in_slug(third, "import other; print(other.hello())") == "other 2.0"

    lines.clear()
    fourth = new_app({**files, "requirements.txt": "greet==1.0\nother==2.0\n"})
    await compile_app(app_dir=fourth, cache_dir=cache, out=out, env=build_env, python=pip_python)
    assert UNCHANGED in lines
    assert await _run_in_slug(fourth, "import other; print(other.hello())") == "other 2.0"


@pytest.mark.integration
@pytest.mark.timeout(120)
async def test_pyproject_dependencies_are_installed(
    new_app: NewApp,
    add_wheel: AddWheel,
    pip_python: str,
    build_env: dict[str, str],
    tmp_path: Path,
    out: output.Output,
    lines: list[str],
) -> None:
    add_wheel("greet", "1.0")
    add_wheel("other", "2.0")
    pyproject = '[project]\nname = "app"\nversion = "0"\ndependencies = ["greet>=1", "other"]\n'
    app = new_app({"pyproject.toml": pyproject, "Procfile": PROCFILE})
    await compile_app(
        app_dir=app, cache_dir=tmp_path / "cache", out=out, env=build_env, python=pip_python
    )
    assert INSTALLING in lines
    assert (app / ".deis/python/greet").is_dir()
    assert (app / ".deis/python/other").is_dir()


@pytest.mark.integration
@pytest.mark.timeout(120)
async def test_requirements_pointing_at_other_files_are_not_cached(
    new_app: NewApp,
    add_wheel: AddWheel,
    pip_python: str,
    build_env: dict[str, str],
    tmp_path: Path,
    out: output.Output,
    lines: list[str],
) -> None:
    add_wheel("greet", "1.0")
    files = {"requirements.txt": "-r base.txt\n", "base.txt": "greet\n", "Procfile": PROCFILE}
    for _ in range(2):
        lines.clear()
        app = new_app(files)
        await compile_app(
            app_dir=app, cache_dir=tmp_path / "cache", out=out, env=build_env, python=pip_python
        )
        assert INSTALLING in lines
        assert (app / ".deis/python/greet").is_dir()


@pytest.mark.integration
@pytest.mark.timeout(120)
async def test_a_failing_pip_fails_the_build(
    new_app: NewApp,
    pip_python: str,
    build_env: dict[str, str],
    tmp_path: Path,
    out: output.Output,
    lines: list[str],
) -> None:
    app = new_app({"requirements.txt": "nowhere-to-be-found==1.0\n", "Procfile": PROCFILE})
    with pytest.raises(BuildFailed, match=r" -m pip install exited with code 1$"):
        await compile_app(
            app_dir=app, cache_dir=tmp_path / "cache", out=out, env=build_env, python=pip_python
        )
    assert any("nowhere-to-be-found" in line for line in lines)
    assert not (tmp_path / "cache" / "python" / "key").exists()


async def test_no_dependencies_means_no_pip_and_the_interpreter_is_linked(
    new_app: NewApp, build_env: dict[str, str], tmp_path: Path, out: output.Output, lines: list[str]
) -> None:
    app = new_app({"requirements.txt": "# nothing yet\n\n", "Procfile": PROCFILE})
    await compile_app(
        app_dir=app, cache_dir=tmp_path / "cache", out=out, env=build_env, python=sys.executable
    )
    assert "-----> No requirements to install" in lines
    assert INSTALLING not in lines
    executable = await _run_in_slug(app, "import sys; print(sys.executable)")
    for name in ("python", "python3"):
        link = app / ".deis/python/bin" / name
        assert link.is_symlink()
        assert os.path.isabs(os.readlink(link))
        assert link.resolve() == Path(sys.executable).resolve()
    assert Path(executable).resolve() == Path(sys.executable).resolve()


async def test_pyproject_without_dependencies_installs_nothing(
    new_app: NewApp, build_env: dict[str, str], tmp_path: Path, out: output.Output, lines: list[str]
) -> None:
    app = new_app({"pyproject.toml": '[project]\nname = "app"\n', "Procfile": PROCFILE})
    await compile_app(
        app_dir=app, cache_dir=tmp_path / "cache", out=out, env=build_env, python=sys.executable
    )
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
    pyproject: str,
    reason: str,
    new_app: NewApp,
    build_env: dict[str, str],
    tmp_path: Path,
    out: output.Output,
) -> None:
    app = new_app({"pyproject.toml": pyproject, "Procfile": PROCFILE})
    with pytest.raises(BuildFailed) as caught:
        await compile_app(
            app_dir=app, cache_dir=tmp_path / "cache", out=out, env=build_env, python=sys.executable
        )
    assert str(caught.value).startswith(reason)
    assert "\n" not in str(caught.value)


async def test_an_interpreter_without_pip_is_a_clear_failure(
    new_app: NewApp, build_env: dict[str, str], tmp_path: Path, out: output.Output
) -> None:
    venv = tmp_path / "bare"
    await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True
    )
    app = new_app({"requirements.txt": "greet\n", "Procfile": PROCFILE})
    with pytest.raises(BuildFailed, match=r"has no pip: install pip for it"):
        await compile_app(
            app_dir=app,
            cache_dir=tmp_path / "cache",
            out=out,
            env=build_env,
            python=str(venv / "bin" / "python"),
        )


async def test_a_missing_interpreter_is_a_clear_failure(
    new_app: NewApp, build_env: dict[str, str], tmp_path: Path, out: output.Output
) -> None:
    app = new_app({"requirements.txt": "greet\n", "Procfile": PROCFILE})
    with pytest.raises(BuildFailed, match=r"^Python interpreter 'python9\.99' not found"):
        await compile_app(
            app_dir=app, cache_dir=tmp_path / "cache", out=out, env=build_env, python="python9.99"
        )


def test_the_default_interpreter_is_the_first_python3_with_pip(tmp_path, pip_python):
    no_pip, with_pip = tmp_path / "no-pip", tmp_path / "system-bin"
    subprocess.run([pip_python, "-m", "venv", "--without-pip", str(no_pip)], check=True)
    without = no_pip / "bin"
    with_pip.mkdir()
    (with_pip / "python3").symlink_to(pip_python)
    env = {"PATH": f"{tmp_path / 'missing'}:{without}:{with_pip}"}

    assert python.find_interpreter(env) == str(with_pip / "python3")
    assert python.find_interpreter({"PATH": str(without)}) == "python3"
