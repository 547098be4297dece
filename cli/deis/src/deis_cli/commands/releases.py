"""Releases: releases:list, info, rollback (docs/api.md §2.5)."""

import click

from deis_cli import parsing, rendering
from deis_cli.commands import session
from deis_cli.commands.session import app_option, app_path, json_option


@click.command("releases:list")
@app_option
@json_option
def list_releases(app: str | None, as_json: bool) -> None:
    """List the app's releases, newest first."""
    current = session.current()
    with current.client() as api:
        name = current.app(app)
        found, count = api.page(app_path(name, "releases"), limit=current.profile.limit)
    if as_json:
        rendering.emit_json({"count": count, "results": found})
        return
    rendering.heading(f"{name} Releases")
    rendering.show_table(
        [
            (
                f"v{release['version']}",
                release.get("created", ""),
                release.get("summary", "") + (" (failed)" if release.get("failed") else ""),
            )
            for release in found
        ]
    )


@click.command("releases:info")
@click.argument("version", required=False, metavar="[vN]")
@app_option
@json_option
def info(version: str | None, app: str | None, as_json: bool) -> None:
    """Show one release (the latest by default)."""
    current = session.current()
    with current.client() as api:
        name = current.app(app)
        if version is None:
            latest, _ = api.page(app_path(name, "releases"), limit=1)
            number = int(latest[0]["version"]) if latest else 1
        else:
            number = parsing.version(version)
        release = api.get(app_path(name, "releases", f"v{number}"))
    if as_json:
        rendering.emit_json(release)
        return
    rendering.heading(f"{name} Release v{number}")
    fields = ["version", "owner", "summary", "failed", "build", "config", "uuid", "created"]
    rendering.show_table([(f"{field}:", release.get(field, "")) for field in fields])


@click.command("releases:rollback")
@click.argument("version", required=False, metavar="[vN]")
@app_option
@json_option
def rollback(version: str | None, app: str | None, as_json: bool) -> None:
    """Roll back to a release (the one before the current one by default)."""
    body = None if version is None else {"version": parsing.version(version)}
    current = session.current()
    with current.client() as api:
        name = current.app(app)
        target = f"v{body['version']}" if body else "the previous release"
        with rendering.progress(f"Rolling back to {target}"):
            answer = api.post(app_path(name, "releases", "rollback"), body)
    if as_json:
        rendering.emit_json(answer)
        return
    rendering.echo(f"Rolled back {name}: now at v{answer['version']}")


COMMANDS = [list_releases, info, rollback]
ALIASES = {"releases": "releases:list", "rollback": "releases:rollback"}
