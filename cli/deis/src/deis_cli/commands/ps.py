"""Processes: ps:list, ps:scale, ps:restart (docs/api.md §2.6)."""

import re
from typing import Any

import click

from deis_cli import parsing, rendering
from deis_cli.commands import session
from deis_cli.commands.apps import render_pods
from deis_cli.commands.session import app_option, app_path, json_option

POD_NAME = re.compile(r"^(?P<type>[a-z0-9]+(?:-[a-z0-9]+)*?)-[0-9a-z]{8,10}-[a-z0-9]{5}$")
"""A pod name after its `<app>-` prefix: `<type>-<8-10 chars>-<5 chars>`."""


def restart_path(app: str, target: str | None) -> str:
    """The restart URL for everything, one type, or one pod (its type taken from its name)."""
    if not target:
        return app_path(app, "pods", "restart")
    short = target.removeprefix(f"{app}-")
    matched = POD_NAME.match(short)
    if matched is None:
        return app_path(app, "pods", target, "restart")
    return app_path(app, "pods", matched.group("type"), target, "restart")


def _show(app: str, pods: Any, as_json: bool) -> None:
    if as_json:
        rendering.emit_json(pods)
        return
    results = pods.get("results") if isinstance(pods, dict) else pods
    render_pods(app, list(results or []))


@click.command("ps:list")
@app_option
@json_option
def list_ps(app: str | None, as_json: bool) -> None:
    """List the app's processes."""
    current = session.current()
    with current.client() as api:
        name = current.app(app)
        pods = api.get(app_path(name, "pods"))
    _show(name, pods, as_json)


@click.command("ps:scale")
@click.argument("targets", nargs=-1, required=True, metavar="TYPE=NUM...")
@app_option
@json_option
def scale(targets: tuple[str, ...], app: str | None, as_json: bool) -> None:
    """Scale process types: `web=3 worker=1`."""
    counts = parsing.scale_targets(targets)
    current = session.current()
    with current.client() as api:
        name = current.app(app)
        described = " ".join(f"{kind}={count}" for kind, count in counts.items())
        with rendering.progress(f"Scaling processes ({described})"):
            api.post(app_path(name, "scale"), counts)
        pods = api.get(app_path(name, "pods"))
    _show(name, pods, as_json)


@click.command("ps:restart")
@click.argument("target", required=False, metavar="[TYPE|POD]")
@app_option
@json_option
def restart(target: str | None, app: str | None, as_json: bool) -> None:
    """Restart all processes, those of one type, or one pod."""
    current = session.current()
    with current.client() as api:
        name = current.app(app)
        with rendering.progress(f"Restarting {target or 'processes'}"):
            pods = api.post(restart_path(name, target))
    _show(name, pods, as_json)


COMMANDS = [list_ps, scale, restart]
ALIASES = {"ps": "ps:list", "scale": "ps:scale", "restart": "ps:restart"}
