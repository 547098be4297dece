"""App settings: maintenance, routing, whitelist, TLS and labels (docs/api.md §2.11).

None of these make a release; an unchanged setting is the controller's 409.
"""

from typing import Any

import click

from deis_cli import parsing, rendering
from deis_cli.commands import session
from deis_cli.commands.session import app_option, app_path, json_option


def _settings(app: str | None, body: dict[str, Any] | None, message: str) -> tuple[str, Any]:
    current = session.current()
    with current.client() as api:
        name = current.app(app)
        if body is None:
            return name, api.get(app_path(name, "settings"))
        with rendering.progress(message.format(app=name)):
            return name, api.post(app_path(name, "settings"), body)


def _switch(field: str, value: bool, message: str) -> click.Command:
    @click.command()
    @app_option
    @json_option
    def command(app: str | None, as_json: bool) -> None:
        _, changed = _settings(app, {field: value}, message)
        if as_json:
            rendering.emit_json(changed)

    return command


def _info(field: str, words: tuple[str, str]) -> click.Command:
    @click.command()
    @app_option
    @json_option
    def command(app: str | None, as_json: bool) -> None:
        name, current = _settings(app, None, "")
        if as_json:
            rendering.emit_json(current)
            return
        state = words[0] if current.get(field) else words[1]
        rendering.echo(f"{field.capitalize()} is {state} for {name}")

    return command


def _named(command: click.Command, name: str, help_text: str) -> click.Command:
    command.name = name
    command.help = help_text
    return command


SWITCHES = [
    _named(
        _switch("maintenance", True, "Enabling maintenance mode for {app}"),
        "maintenance:on",
        "Put the app in maintenance mode (the router answers 503).",
    ),
    _named(
        _switch("maintenance", False, "Disabling maintenance mode for {app}"),
        "maintenance:off",
        "Take the app out of maintenance mode.",
    ),
    _named(
        _info("maintenance", ("on", "off")),
        "maintenance:info",
        "Whether the app is in maintenance mode.",
    ),
    _named(
        _switch("routable", True, "Enabling routing for {app}"),
        "routing:enable",
        "Route requests to the app.",
    ),
    _named(
        _switch("routable", False, "Disabling routing for {app}"),
        "routing:disable",
        "Stop routing requests to the app.",
    ),
    _named(
        _info("routable", ("enabled", "disabled")),
        "routing:info",
        "Whether requests are routed to the app.",
    ),
]


def _addresses(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


@click.command("whitelist:list")
@app_option
@json_option
def whitelist_list(app: str | None, as_json: bool) -> None:
    """List the addresses allowed to reach the app (all when empty)."""
    current = session.current()
    with current.client() as api:
        name = current.app(app)
        found = api.get(app_path(name, "whitelist"))
    if as_json:
        rendering.emit_json(found)
        return
    rendering.heading(f"{name} Whitelisted Addresses")
    for address in found.get("addresses") or []:
        rendering.echo(str(address))


@click.command("whitelist:add")
@click.argument("addresses", metavar="ADDR[,ADDR...]")
@app_option
def whitelist_add(addresses: str, app: str | None) -> None:
    """Allow addresses or networks (comma-separated)."""
    current = session.current()
    with current.client() as api:
        name = current.app(app)
        with rendering.progress(f"Adding {addresses} to {name} whitelist"):
            api.post(app_path(name, "whitelist"), {"addresses": _addresses(addresses)})


@click.command("whitelist:remove")
@click.argument("addresses", metavar="ADDR[,ADDR...]")
@app_option
def whitelist_remove(addresses: str, app: str | None) -> None:
    """Remove addresses or networks (comma-separated) from the whitelist."""
    current = session.current()
    with current.client() as api:
        name = current.app(app)
        with rendering.progress(f"Removing {addresses} from {name} whitelist"):
            api.delete(app_path(name, "whitelist"), {"addresses": _addresses(addresses)})


def _tls(field: str, value: bool | None, app: str | None, as_json: bool) -> None:
    current = session.current()
    with current.client() as api:
        name = current.app(app)
        if value is None:
            tls = api.get(app_path(name, "tls"))
        else:
            word = "Enabling" if value else "Disabling"
            what = "https-only requests" if field == "https_enforced" else "automatic TLS"
            with rendering.progress(f"{word} {what} for {name}"):
                tls = api.post(app_path(name, "tls"), {field: value})
    if as_json:
        rendering.emit_json(tls)
        return
    if value is None:
        _show_tls(name, tls)


def _show_tls(name: str, tls: dict[str, Any]) -> None:
    state = "enforced" if tls.get("https_enforced") else "not enforced"
    rendering.heading(f"{name} TLS")
    rendering.echo(f"HTTPS is {state}")
    if not tls.get("certs_auto_enabled"):
        rendering.echo("Automatic TLS is off")
        return
    rendering.echo("Automatic TLS is on")
    statuses = tls.get("certs_auto_status") or []
    if not statuses:
        rendering.echo("No domains to certify.")
        return
    rendering.show_table(
        [
            (
                entry.get("domain"),
                entry.get("state"),
                entry.get("certificate") or "-",
                entry.get("expires") or "-",
                entry.get("next_attempt") or "-",
                entry.get("last_error") or "",
            )
            for entry in statuses
        ],
        headers=("Domain", "State", "Certificate", "Expires", "Next attempt", "Last error"),
    )


@click.command("tls:info")
@app_option
@json_option
def tls_info(app: str | None, as_json: bool) -> None:
    """Whether the app accepts HTTPS only, and where automatic TLS stands for each domain."""
    _tls("https_enforced", None, app, as_json)


@click.command("tls:enable")
@app_option
@json_option
def tls_enable(app: str | None, as_json: bool) -> None:
    """Redirect HTTP requests to HTTPS."""
    _tls("https_enforced", True, app, as_json)


@click.command("tls:disable")
@app_option
@json_option
def tls_disable(app: str | None, as_json: bool) -> None:
    """Accept plain HTTP requests again."""
    _tls("https_enforced", False, app, as_json)


@click.command("tls:auto:enable")
@app_option
@json_option
def tls_auto_enable(app: str | None, as_json: bool) -> None:
    """Obtain and renew certificates for the app's domains automatically (ACME)."""
    _tls("certs_auto_enabled", True, app, as_json)


@click.command("tls:auto:disable")
@app_option
@json_option
def tls_auto_disable(app: str | None, as_json: bool) -> None:
    """Stop obtaining certificates (those issued stay until they expire or are removed)."""
    _tls("certs_auto_enabled", False, app, as_json)


@click.command("labels:list")
@app_option
@json_option
def labels_list(app: str | None, as_json: bool) -> None:
    """List the app's labels."""
    name, current = _settings(app, None, "")
    if as_json:
        rendering.emit_json(current.get("label") or {})
        return
    rendering.heading(f"{name} Label")
    rendering.mapping(current.get("label") or {}, empty="No labels found.")


@click.command("labels:set")
@click.argument("pairs", nargs=-1, required=True, metavar="KEY=VALUE...")
@app_option
def labels_set(pairs: tuple[str, ...], app: str | None) -> None:
    """Set labels (free-form metadata shown by `deis info`)."""
    _settings(app, {"label": parsing.tags(pairs)}, "Applying labels on {app}")


@click.command("labels:unset")
@click.argument("keys", nargs=-1, required=True, metavar="KEY...")
@app_option
def labels_unset(keys: tuple[str, ...], app: str | None) -> None:
    """Remove labels."""
    _settings(app, {"label": dict.fromkeys(keys)}, "Removing labels from {app}")


COMMANDS = [
    *SWITCHES,
    whitelist_list,
    whitelist_add,
    whitelist_remove,
    tls_info,
    tls_enable,
    tls_disable,
    tls_auto_enable,
    tls_auto_disable,
    labels_list,
    labels_set,
    labels_unset,
]
ALIASES = {
    "maintenance": "maintenance:info",
    "routing": "routing:info",
    "whitelist": "whitelist:list",
    "tls": "tls:info",
    "labels": "labels:list",
}
