"""Domains of an app: domains:add, list, remove (docs/api.md §2.7)."""

import click

from deis_cli import rendering
from deis_cli.commands import session
from deis_cli.commands.session import app_option, app_path, json_option


@click.command("domains:list")
@app_option
@json_option
def list_domains(app: str | None, as_json: bool) -> None:
    """List the app's domains."""
    current = session.current()
    with current.client() as api:
        name = current.app(app)
        found, count = api.page(app_path(name, "domains"), limit=current.profile.limit)
    if as_json:
        rendering.emit_json({"count": count, "results": found})
        return
    rendering.heading(f"{name} Domains")
    for domain in found:
        rendering.echo(str(domain["domain"]))


@click.command("domains:add")
@click.argument("domain")
@app_option
@json_option
def add(domain: str, app: str | None, as_json: bool) -> None:
    """Add a domain to the app."""
    current = session.current()
    with current.client() as api:
        name = current.app(app)
        with rendering.progress(f"Adding {domain} to {name}"):
            added = api.post(app_path(name, "domains"), {"domain": domain})
    if as_json:
        rendering.emit_json(added)


@click.command("domains:remove")
@click.argument("domain")
@app_option
def remove(domain: str, app: str | None) -> None:
    """Remove a domain from the app."""
    current = session.current()
    with current.client() as api:
        name = current.app(app)
        with rendering.progress(f"Removing {domain} from {name}"):
            api.delete(f"/v2/apps/{name}/domains/{domain}")


COMMANDS = [list_domains, add, remove]
ALIASES = {"domains": "domains:list"}
