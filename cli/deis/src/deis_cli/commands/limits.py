"""Resource limits per process type: limits:list, set, unset (memory, or CPU with `--cpu`)."""

from typing import Any

import click

from deis_cli import parsing, rendering
from deis_cli.commands import session
from deis_cli.commands.session import app_option, app_path, json_option


def _render(app: str, config: dict[str, Any]) -> None:
    rendering.heading(f"{app} Limits")
    rendering.echo("--- Memory")
    rendering.mapping(config.get("memory") or {}, empty="Unlimited")
    rendering.echo("--- CPU")
    rendering.mapping(config.get("cpu") or {}, empty="Unlimited")


def _post(app: str | None, body: dict[str, Any], *, message: str, as_json: bool) -> None:
    name, config = session.change_config(app, body, message=message)
    if as_json:
        rendering.emit_json(config)
        return
    _render(name, config)


@click.command("limits:list")
@app_option
@json_option
def list_limits(app: str | None, as_json: bool) -> None:
    """List the app's memory and CPU limits."""
    current = session.current()
    with current.client() as api:
        name = current.app(app)
        config = api.get(app_path(name, "config"))
    if as_json:
        rendering.emit_json({"memory": config.get("memory"), "cpu": config.get("cpu")})
        return
    _render(name, config)


@click.command("limits:set")
@click.argument("limits", nargs=-1, required=True, metavar="TYPE=VALUE...")
@click.option("--memory", "kind", flag_value="memory", default=True, help="Memory (default).")
@click.option("--cpu", "kind", flag_value="cpu", help="CPU, e.g. web=500m or web=0.5/1.")
@app_option
@json_option
def set_limits(limits: tuple[str, ...], kind: str, app: str | None, as_json: bool) -> None:
    """Set memory (`web=512M`) or CPU (`--cpu web=500m`) limits (a new release)."""
    parsed = parsing.limits(limits, cpu=kind == "cpu")
    _post(app, {kind: parsed}, message="Applying limits", as_json=as_json)


@click.command("limits:unset")
@click.argument("types", nargs=-1, required=True, metavar="TYPE...")
@click.option("--memory", "kind", flag_value="memory", default=True, help="Memory (default).")
@click.option("--cpu", "kind", flag_value="cpu", help="CPU.")
@app_option
@json_option
def unset_limits(types: tuple[str, ...], kind: str, app: str | None, as_json: bool) -> None:
    """Remove limits of process types (a new release)."""
    body = {kind: dict.fromkeys(parsing.proc_types(types))}
    _post(app, body, message="Removing limits", as_json=as_json)


COMMANDS = [list_limits, set_limits, unset_limits]
ALIASES = {"limits": "limits:list"}
