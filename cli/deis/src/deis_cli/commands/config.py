"""Environment variables: config:list, set, unset, and pull/push of a `.env` file.

Every change is a POST of the config's `values` (null unsets) and makes a new release.
"""

from pathlib import Path
from typing import Any

import click

from deis_cli import dotenv, errors, parsing, rendering
from deis_cli.commands import session
from deis_cli.commands.session import app_option, app_path, json_option

DEFAULT_ENV_FILE = ".env"


def render_values(app: str, config: dict[str, Any], *, oneline: bool = False) -> None:
    """A config's values, as a table or on one line."""
    values = config.get("values") or {}
    if oneline:
        rendering.echo(" ".join(f"{key}={values[key]}" for key in sorted(values)))
        return
    rendering.heading(f"{app} Config")
    rendering.mapping(values, empty="No config vars found.")


def _post(app: str | None, body: dict[str, Any], *, message: str, as_json: bool) -> None:
    name, config = session.change_config(app, body, message=message)
    if as_json:
        rendering.emit_json(config)
        return
    render_values(name, config)


@click.command("config:list")
@app_option
@click.option("--oneline", is_flag=True, help="KEY=value pairs on one line.")
@json_option
def list_config(app: str | None, oneline: bool, as_json: bool) -> None:
    """List the app's environment variables."""
    current = session.current()
    with current.client() as api:
        name = current.app(app)
        config = api.get(app_path(name, "config"))
    if as_json:
        rendering.emit_json(config)
        return
    render_values(name, config, oneline=oneline)


@click.command("config:set")
@click.argument("pairs", nargs=-1, metavar="KEY=value...")
@app_option
@json_option
def set_config(pairs: tuple[str, ...], app: str | None, as_json: bool) -> None:
    """Set environment variables (a new release)."""
    values = parsing.config_pairs(pairs)
    if "SSH_KEY" in values:
        values["SSH_KEY"] = parsing.ssh_key_value(values["SSH_KEY"])
    _post(app, {"values": values}, message="Creating config", as_json=as_json)


@click.command("config:unset")
@click.argument("keys", nargs=-1, required=True, metavar="KEY...")
@app_option
@json_option
def unset_config(keys: tuple[str, ...], app: str | None, as_json: bool) -> None:
    """Remove environment variables (a new release)."""
    values = dict.fromkeys(keys)
    _post(app, {"values": values}, message="Removing config", as_json=as_json)


@click.command("config:pull")
@app_option
@click.option("-o", "--overwrite", is_flag=True, help="Replace values already in the file.")
@click.option("-p", "--path", "path", default=DEFAULT_ENV_FILE, show_default=True)
def pull(app: str | None, overwrite: bool, path: str) -> None:
    """Write the app's environment variables into a `.env` file."""
    current = session.current()
    with current.client() as api:
        name = current.app(app)
        config = api.get(app_path(name, "config"))
    target = Path(path)
    existing = dotenv.parse(target.read_text(), source=path) if target.exists() else {}
    remote: dict[str, str] = {k: str(v) for k, v in (config.get("values") or {}).items()}
    merged = {**remote, **existing} if not overwrite else {**existing, **remote}
    target.write_text(dotenv.render(merged))
    rendering.echo(f"Wrote {len(remote)} config vars of {name} to {path}")


@click.command("config:push")
@app_option
@click.option("-p", "--path", "path", default=DEFAULT_ENV_FILE, show_default=True)
@json_option
def push(app: str | None, path: str, as_json: bool) -> None:
    """Set the app's environment variables from a `.env` file."""
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise errors.InvalidInput(f"cannot read {path}: {exc.strerror}") from exc
    values = dotenv.parse(text, source=path)
    if not values:
        raise errors.InvalidInput(f"{path} holds no KEY=value lines")
    _post(app, {"values": values}, message="Creating config", as_json=as_json)


COMMANDS = [list_config, set_config, unset_config, pull, push]
ALIASES = {"config": "config:list"}
