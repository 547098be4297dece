"""One-off commands and logs: `deis run` and `deis logs [-n N] [-f]` (docs/api.md §2.2)."""

import click

from deis_cli import client, errors, rendering
from deis_cli.commands import session
from deis_cli.commands.session import app_option, app_path, json_option


@click.command(
    "run", context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False}
)
@app_option
@json_option
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
def run(app: str | None, as_json: bool, command: tuple[str, ...]) -> None:
    """Run a command once in the app's environment; exits with its exit code."""
    line = " ".join(command)
    current = session.current()
    with current.client() as api:
        name = current.app(app)
        with rendering.progress(f"Running '{line}'"):
            result = api.post(app_path(name, "run"), {"command": line}, timeout=client.FOREVER)
    if not isinstance(result, dict):
        raise errors.CliError("the controller's run answer is not an object")
    if as_json:
        rendering.emit_json(result)
    else:
        output = str(result.get("output") or "")
        click.echo(output, nl=not output.endswith("\n"))
    code = result.get("exit_code")
    if isinstance(code, int) and code != 0:
        click.get_current_context().exit(code)


@click.command("logs")
@app_option
@click.option("-n", "--lines", type=click.IntRange(min=1), help="How many of the last lines.")
@click.option("-f", "--follow", is_flag=True, help="Keep printing new lines (Ctrl-C ends).")
def logs(app: str | None, lines: int | None, follow: bool) -> None:
    """Print the app's latest log lines."""
    current = session.current()
    params: dict[str, object] = {}
    if lines is not None:
        params["log_lines"] = lines
    with current.client() as api:
        name = current.app(app)
        path = f"/v2/apps/{name}/logs"
        if follow:
            params["follow"] = "true"
            try:
                for line in api.lines(path, params=params):
                    click.echo(line)
            except KeyboardInterrupt:
                return
            return
        response = api.request("GET", path, params=params)
    if len(response.content) < 3:  # Deis: a body this short means no logs yet
        rendering.warn(f"There are currently no log messages for {name}.")
        return
    click.echo(response.text, nl=not response.text.endswith("\n"))


COMMANDS = [run, logs]
ALIASES = {"logs:list": "logs"}
