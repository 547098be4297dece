import json
from collections.abc import Callable
from pathlib import Path

import pytest

from deis_builder.buildpacks.detection import CompiledApp
from deis_builder.errors import BuildFailed
from deis_shared import slugs

NewApp = Callable[[dict[str, str]], Path]
LOOKED_FOR = (
    "looked for requirements.txt or pyproject.toml (Python), package.json (Node),"
    " index.html (static site)"
)


async def _compile(app: Path, build) -> CompiledApp:
    compiled: CompiledApp = await build.compile(app)
    return compiled


async def test_python_comes_before_node_and_static(new_app: NewApp, build) -> None:
    app = new_app(
        {"requirements.txt": "", "package.json": "{}", "index.html": "", "Procfile": "web: x"}
    )
    assert (await _compile(app, build)).buildpack == "python"


async def test_pyproject_alone_is_python(new_app: NewApp, build) -> None:
    app = new_app({"pyproject.toml": "", "Procfile": "web: x"})
    assert (await _compile(app, build)).buildpack == "python"


async def test_node_comes_before_static(new_app: NewApp, build) -> None:
    app = new_app({"package.json": "{}", "index.html": ""})
    assert (await _compile(app, build)).buildpack == "node"


async def test_nothing_recognisable_is_refused(new_app: NewApp, build) -> None:
    app = new_app({"Pipfile": "", "main.go": ""})
    with pytest.raises(BuildFailed) as caught:
        await _compile(app, build)
    assert str(caught.value) == f"no buildpack detected: {LOOKED_FOR}"


async def test_a_procfile_alone_is_refused_and_said_so(new_app: NewApp, build) -> None:
    app = new_app({"Procfile": "web: ./server"})
    with pytest.raises(BuildFailed) as caught:
        await _compile(app, build)
    assert str(caught.value) == (
        f"no buildpack detected: a Procfile alone is not enough; {LOOKED_FOR}"
    )


@pytest.mark.parametrize("procfile", [None, "# later\n"])
async def test_python_without_process_types_is_refused(
    procfile: str | None, new_app: NewApp, build
) -> None:
    files = {"requirements.txt": "flask\n"}
    if procfile is not None:
        files["Procfile"] = procfile
    app = new_app(files)
    with pytest.raises(BuildFailed) as caught:
        await _compile(app, build)
    assert str(caught.value) == "no Procfile: a Python app needs one, e.g. 'web: gunicorn app:app'"


async def test_bad_procfile_fails_before_anything_is_installed(
    new_app: NewApp, build, lines: list[str]
) -> None:
    app = new_app({"package.json": '{"dependencies": {"x": "1"}}', "Procfile": "web: a\nWeb: b\n"})
    with pytest.raises(BuildFailed, match=r"^Procfile line 2: process type 'Web' must be"):
        await _compile(app, build)
    assert lines == []


async def test_procfile_overrides_defaults_type_by_type(
    new_app: NewApp, build, lines: list[str]
) -> None:
    app = new_app({"package.json": "{}", "Procfile": "worker: node worker.js\n"})
    compiled = await _compile(app, build)
    assert compiled == CompiledApp(
        buildpack="node", procfile={"web": "npm start", "worker": "node worker.js"}
    )
    assert lines[-3:] == [
        "-----> Discovering process types",
        "       Procfile declares types -> worker",
        "       Default types for node -> web",
    ]
    metadata = json.loads((app / ".deis/slug.json").read_text())
    assert metadata["process_types"] == {"web": "npm start", "worker": "node worker.js"}


async def test_python_types_come_from_the_procfile(
    new_app: NewApp, build, lines: list[str]
) -> None:
    app = new_app({"requirements.txt": "", "Procfile": "web: gunicorn app:app\nworker: rq\n"})
    compiled = await _compile(app, build)
    assert compiled.procfile == {"web": "gunicorn app:app", "worker": "rq"}
    assert "       Procfile declares types -> web, worker" in lines


async def test_a_pushed_metadata_directory_is_dropped(
    new_app: NewApp, build, lines: list[str]
) -> None:
    app = new_app({"index.html": "", ".deis/slug.json": '{"forged": true}', ".deis/x": ""})
    await _compile(app, build)
    assert sorted(p.name for p in (app / ".deis").iterdir()) == ["slug.json"]
    assert "forged" not in (app / ".deis/slug.json").read_text()
    assert any("Ignoring the pushed .deis/" in line for line in lines)


async def test_a_pushed_metadata_symlink_is_not_followed(
    new_app: NewApp, build, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    outside.chmod(0o777)  # only the sandbox keeps the build out
    app = new_app({"index.html": ""})
    (app / ".deis").symlink_to(outside)
    await _compile(app, build)
    assert not (app / ".deis").is_symlink()
    assert list(outside.iterdir()) == []


@pytest.mark.parametrize(
    ("name", "files"),
    [
        ("Procfile", {"index.html": ""}),
        ("requirements.txt", {"Procfile": "web: x"}),
        ("pyproject.toml", {"Procfile": "web: x"}),
        ("package.json", {}),
    ],
)
async def test_symlinked_steering_files_are_refused(
    name: str, files: dict[str, str], new_app: NewApp, build, tmp_path: Path
) -> None:
    secret = tmp_path / "secret"
    secret.write_text("web: cat /etc/shadow\n")
    app = new_app(files)
    (app / name).symlink_to(secret)
    with pytest.raises(BuildFailed, match=f"^{name} is a symlink; push a regular file$"):
        await _compile(app, build)


async def test_the_environment_is_not_changed(new_app: NewApp, build) -> None:
    env = dict(build.env)
    app = new_app({"requirements.txt": "", "Procfile": "web: x"})
    await build.compile(app, env=env)
    assert env == build.env


async def test_the_manifest_is_the_bytes_it_always_was_and_reads_back(
    new_app: NewApp, build
) -> None:
    app = new_app({"index.html": "", "Procfile": "worker: echo h\u00e9llo\n"})
    await _compile(app, build)
    written = (app / ".deis/slug.json").read_bytes()
    assert written == (
        b"{\n"
        b'  "schema": 1,\n'
        b'  "buildpack": "static",\n'
        b'  "process_types": {\n'
        b'    "web": "python3 -m http.server $PORT",\n'
        b'    "worker": "echo h\\u00e9llo"\n'
        b"  },\n"
        b'  "env": {}\n'
        b"}\n"
    )
    manifest = slugs.read(app)
    assert manifest.buildpack == "static"
    assert manifest.process_types == {
        "web": "python3 -m http.server $PORT",
        "worker": "echo h\u00e9llo",
    }
    assert manifest.env == {}
