import json
from collections.abc import Callable
from pathlib import Path

NewApp = Callable[[dict[str, str]], Path]


async def test_index_html_is_served_by_the_interpreter(
    new_app: NewApp, build, lines: list[str]
) -> None:
    app = new_app({"index.html": "<h1>hi</h1>\n"})
    compiled = await build.compile(app)
    assert compiled.buildpack == "static"
    assert compiled.procfile == {"web": "python3 -m http.server $PORT"}
    assert lines == [
        "-----> Static site detected",
        "-----> Nothing to install",
        "-----> Discovering process types",
        "       Default types for static -> web",
    ]
    assert json.loads((app / ".deis/slug.json").read_text()) == {
        "schema": 1,
        "buildpack": "static",
        "process_types": {"web": "python3 -m http.server $PORT"},
        "env": {},
    }
    assert (app / "index.html").read_text() == "<h1>hi</h1>\n"


async def test_the_interpreter_command_is_used_as_given_and_quoted(new_app: NewApp, build) -> None:
    app = new_app({"index.html": ""})
    compiled = await build.compile(app, python="/opt/my py/bin/python3")
    assert compiled.procfile == {"web": "'/opt/my py/bin/python3' -m http.server $PORT"}


async def test_procfile_replaces_the_default_web(new_app: NewApp, build, lines: list[str]) -> None:
    app = new_app({"index.html": "", "Procfile": "web: caddy file-server\n"})
    compiled = await build.compile(app)
    assert compiled.procfile == {"web": "caddy file-server"}
    assert "       Procfile declares types -> web" in lines
    assert not any("Default types" in line for line in lines)
