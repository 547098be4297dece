"""Autoscaling per process type: autoscale:list, set, unset (app settings, docs/api.md §2.11)."""

from typing import Any

import click

from deis_cli import parsing, rendering
from deis_cli.commands import session
from deis_cli.commands.session import app_option, app_path, json_option


def _post(app: str | None, body: dict[str, Any], message: str) -> None:
    current = session.current()
    with current.client() as api:
        name = current.app(app)
        with rendering.progress(message.format(app=name)):
            api.post(app_path(name, "settings"), {"autoscale": body})


@click.command("autoscale:list")
@app_option
@json_option
def list_autoscale(app: str | None, as_json: bool) -> None:
    """List the app's autoscaling rules."""
    current = session.current()
    with current.client() as api:
        name = current.app(app)
        settings = api.get(app_path(name, "settings"))
    rules: dict[str, Any] = settings.get("autoscale") or {}
    if as_json:
        rendering.emit_json(rules)
        return
    rendering.heading(f"{name} Autoscale")
    if not rules:
        rendering.echo("No autoscale rules found.")
    for kind in sorted(rules):
        rule = rules[kind] or {}
        rendering.echo(
            f"--- {kind}: min {rule.get('min')}, max {rule.get('max')}, "
            f"CPU {rule.get('cpu_percent')}%"
        )


@click.command("autoscale:set")
@click.argument("proc_type", metavar="TYPE")
@click.option("--min", "minimum", type=click.IntRange(min=1), required=True)
@click.option("--max", "maximum", type=click.IntRange(min=1), required=True)
@click.option("--cpu-percent", type=click.IntRange(min=1, max=100), required=True)
@app_option
def set_autoscale(
    proc_type: str, minimum: int, maximum: int, cpu_percent: int, app: str | None
) -> None:
    """Scale a process type between --min and --max at a target CPU use."""
    parsing.proc_types([proc_type])
    rule = {"min": minimum, "max": maximum, "cpu_percent": cpu_percent}
    _post(app, {proc_type: rule}, f"Applying autoscale settings for {proc_type} on {{app}}")


@click.command("autoscale:unset")
@click.argument("proc_type", metavar="TYPE")
@app_option
def unset_autoscale(proc_type: str, app: str | None) -> None:
    """Stop autoscaling a process type."""
    _post(app, {proc_type: None}, f"Removing autoscale for {proc_type} on {{app}}")


COMMANDS = [list_autoscale, set_autoscale, unset_autoscale]
ALIASES = {"autoscale": "autoscale:list"}
