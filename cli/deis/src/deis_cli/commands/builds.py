"""Builds from an image: builds:list and builds:create (`deis pull`)."""

from pathlib import Path

import click

from deis_cli import errors, rendering
from deis_cli.commands import session
from deis_cli.commands.session import app_option, app_path, json_option


def parse_procfile(text: str, *, source: str = "Procfile") -> dict[str, str]:
    """A Procfile's `type: command` lines.

    Raises:
        InvalidInput: A line lacks the colon.
    """
    types: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        kind, sep, command = line.partition(":")
        if not sep:
            raise errors.InvalidInput(f"{source} line {number}: expected 'type: command'")
        types[kind.strip()] = command.strip()
    return types


@click.command("builds:list")
@app_option
@json_option
def list_builds(app: str | None, as_json: bool) -> None:
    """List the app's builds, newest first."""
    current = session.current()
    with current.client() as api:
        name = current.app(app)
        found, count = api.page(app_path(name, "builds"), limit=current.profile.limit)
    if as_json:
        rendering.emit_json({"count": count, "results": found})
        return
    rendering.heading(f"{name} Builds")
    rendering.show_table([(b["uuid"], b.get("created", ""), b.get("image", "")) for b in found])


@click.command("builds:create")
@click.argument("image")
@click.option("--procfile", help="Process types as 'web: cmd' lines (\\n between lines).")
@app_option
@json_option
def create(image: str, procfile: str | None, app: str | None, as_json: bool) -> None:
    """Deploy an image (reads ./Procfile if present): a new release."""
    body: dict[str, object] = {"image": image}
    if procfile is not None:
        body["procfile"] = parse_procfile(procfile.replace("\\n", "\n"), source="--procfile")
    elif Path("Procfile").is_file():
        body["procfile"] = parse_procfile(Path("Procfile").read_text())
    current = session.current()
    with current.client() as api:
        name = current.app(app)
        with rendering.progress(f"Creating build of {image}"):
            build = api.post(app_path(name, "builds"), body)
    if as_json:
        rendering.emit_json(build)
        return
    rendering.echo(f"Created build {build.get('uuid')} of {name}")


COMMANDS = [list_builds, create]
ALIASES = {"builds": "builds:list", "pull": "builds:create"}
