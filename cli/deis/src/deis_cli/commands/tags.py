"""Config maps set as `key=value`: tags (node selectors) and registry credentials."""

from typing import Any

import click

from deis_cli import parsing, rendering
from deis_cli.commands import session
from deis_cli.commands.session import app_option, app_path, json_option


def _show(app: str, field: str, config: dict[str, Any], *, as_json: bool) -> None:
    values = config.get(field) or {}
    if as_json:
        rendering.emit_json(values)
        return
    rendering.heading(f"{app} {field.capitalize()}")
    rendering.mapping(values, empty=f"No {field} found.")


def _list(field: str, app: str | None, as_json: bool) -> None:
    current = session.current()
    with current.client() as api:
        name = current.app(app)
        config = api.get(app_path(name, "config"))
    _show(name, field, config, as_json=as_json)


def _post(field: str, values: dict[str, Any], app: str | None, as_json: bool) -> None:
    name, config = session.change_config(app, {field: values}, message=f"Applying {field}")
    _show(name, field, config, as_json=as_json)


def _commands(field: str, example: str) -> list[click.Command]:
    @click.command(f"{field}:list")
    @app_option
    @json_option
    def list_values(app: str | None, as_json: bool) -> None:
        _list(field, app, as_json)

    @click.command(f"{field}:set")
    @click.argument("pairs", nargs=-1, required=True, metavar="KEY=VALUE...")
    @app_option
    @json_option
    def set_values(pairs: tuple[str, ...], app: str | None, as_json: bool) -> None:
        _post(field, dict(parsing.tags(pairs)), app, as_json)

    @click.command(f"{field}:unset")
    @click.argument("keys", nargs=-1, required=True, metavar="KEY...")
    @app_option
    @json_option
    def unset_values(keys: tuple[str, ...], app: str | None, as_json: bool) -> None:
        _post(field, dict.fromkeys(keys), app, as_json)

    list_values.help = f"List the app's {field}."
    set_values.help = f"Set {field} (a new release), e.g. {example}."
    unset_values.help = f"Remove {field} (a new release)."
    return [list_values, set_values, unset_values]


COMMANDS = [*_commands("tags", "environ=prod"), *_commands("registry", "username=bob")]
ALIASES = {"tags": "tags:list", "registry": "registry:list"}
