"""Health checks per process type: healthchecks:list, set, unset (docs/api.md §2.3).

`healthchecks:set liveness|readiness httpGet PORT | tcpSocket PORT | exec -- CMD...` builds the
probe Deis's CLI builds, with its default timings.
"""

from typing import Any

import click

from deis_cli import errors, rendering
from deis_cli.commands import session
from deis_cli.commands.session import app_option, app_path, json_option

PROBES = {"liveness": "livenessProbe", "readiness": "readinessProbe"}
DEFAULT_TYPE = "web/cmd"
"""The entry that applies to `web` and `cmd` when they have none of their own."""


def _port(args: tuple[str, ...], probe: str) -> int:
    if len(args) != 1 or not args[0].isdigit():
        raise errors.InvalidInput(f"{probe} needs one port number, ex: {probe} 5000")
    return int(args[0])


def build_probe(kind: str, args: tuple[str, ...], options: dict[str, Any]) -> dict[str, Any]:
    """The probe object for `kind` (httpGet, tcpSocket, exec) and its arguments.

    Raises:
        InvalidInput: An unknown probe kind, or arguments that do not fit it.
    """
    probe: dict[str, Any] = {
        "initialDelaySeconds": options["initial_delay"],
        "timeoutSeconds": options["timeout"],
        "periodSeconds": options["period"],
        "successThreshold": options["success_threshold"],
        "failureThreshold": options["failure_threshold"],
    }
    if kind == "httpGet":
        headers = []
        for header in options["headers"]:
            name, sep, value = header.partition(":")
            if not sep or not name.strip():
                raise errors.InvalidInput(f"'{header}' is not a header, ex: X-Check:yes")
            headers.append({"name": name.strip(), "value": value.strip()})
        probe["httpGet"] = {
            "path": options["path"],
            "port": _port(args, kind),
            "httpHeaders": headers,
        }
    elif kind == "tcpSocket":
        probe["tcpSocket"] = {"port": _port(args, kind)}
    elif kind == "exec":
        if not args:
            raise errors.InvalidInput("exec needs a command, ex: exec -- /bin/true")
        probe["exec"] = {"command": list(args)}
    else:
        raise errors.InvalidInput(f"'{kind}' is not a probe type: httpGet, tcpSocket or exec")
    return probe


def _render(app: str, config: dict[str, Any], kind: str | None) -> None:
    checks: dict[str, Any] = config.get("healthcheck") or {}
    rendering.heading(f"{app} Healthchecks")
    shown = {kind: checks[kind]} if kind and kind in checks else ({} if kind else checks)
    if not shown:
        rendering.echo("No healthchecks configured.")
    for proc_type in sorted(shown):
        rendering.echo(f"--- {proc_type}:")
        for probe in sorted(shown[proc_type] or {}):
            rendering.echo(f"{probe}: {shown[proc_type][probe]}")


@click.command("healthchecks:list")
@app_option
@click.option("--type", "proc_type", default=None, help="One process type only.")
@json_option
def list_checks(app: str | None, proc_type: str | None, as_json: bool) -> None:
    """List the app's health checks."""
    current = session.current()
    with current.client() as api:
        name = current.app(app)
        config = api.get(app_path(name, "config"))
    if as_json:
        rendering.emit_json(config.get("healthcheck") or {})
        return
    _render(name, config, proc_type)


def _post(app: str | None, body: dict[str, Any], as_json: bool, kind: str | None) -> None:
    name, config = session.change_config(
        app, {"healthcheck": body}, message="Applying healthchecks"
    )
    if as_json:
        rendering.emit_json(config.get("healthcheck") or {})
        return
    _render(name, config, kind)


@click.command("healthchecks:set", context_settings={"ignore_unknown_options": False})
@click.argument("health", type=click.Choice(sorted(PROBES)))
@click.argument("probe", metavar="httpGet|tcpSocket|exec")
@click.argument("args", nargs=-1)
@click.option("--type", "proc_type", default=DEFAULT_TYPE, show_default=True)
@click.option("--path", default="/", show_default=True, help="httpGet: the path.")
@click.option("-H", "--header", "headers", multiple=True, help="httpGet: Name:Value.")
@click.option("--initial-delay", default=50, show_default=True, type=int)
@click.option("--timeout", default=50, show_default=True, type=int)
@click.option("--period", default=10, show_default=True, type=int)
@click.option("--success-threshold", default=1, show_default=True, type=int)
@click.option("--failure-threshold", default=3, show_default=True, type=int)
@app_option
@json_option
def set_check(
    health: str,
    probe: str,
    args: tuple[str, ...],
    proc_type: str,
    app: str | None,
    as_json: bool,
    **options: Any,
) -> None:
    """Set a liveness or readiness check: `liveness httpGet 5000 --path /health`."""
    body = {proc_type: {PROBES[health]: build_probe(probe, args, options)}}
    _post(app, body, as_json, proc_type)


@click.command("healthchecks:unset")
@click.argument("health", nargs=-1, required=True, type=click.Choice(sorted(PROBES)))
@click.option("--type", "proc_type", default=DEFAULT_TYPE, show_default=True)
@app_option
@json_option
def unset_check(health: tuple[str, ...], proc_type: str, app: str | None, as_json: bool) -> None:
    """Remove liveness and/or readiness checks of a process type."""
    body = {proc_type: {PROBES[name]: None for name in health}}
    _post(app, body, as_json, proc_type)


COMMANDS = [list_checks, set_check, unset_check]
ALIASES = {"healthchecks": "healthchecks:list"}
