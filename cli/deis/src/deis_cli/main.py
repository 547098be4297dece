"""The `deis` command: one click group of `topic:action` commands and Deis's short aliases.

Every `CliError` (an API error, an unreachable controller, bad input) ends here as one line on
stderr, `deis: <message>`, and a non-zero exit code; never a traceback.
"""

from collections.abc import Sequence
from typing import Any

import click

from deis_cli import errors
from deis_cli.commands import (
    apps,
    appsettings,
    auth,
    autoscale,
    builds,
    certs,
    config,
    domains,
    gitremotes,
    healthchecks,
    keys,
    limits,
    metrics,
    perms,
    ps,
    releases,
    runlogs,
    tags,
)

MODULES = [
    auth,
    apps,
    config,
    ps,
    runlogs,
    metrics,
    releases,
    builds,
    domains,
    certs,
    perms,
    keys,
    limits,
    healthchecks,
    tags,
    appsettings,
    autoscale,
    gitremotes,
]

VERSION = "v2.3.0"
"""The Deis Workflow release this client is compatible with."""


class DeisGroup(click.Group):
    """A group that resolves aliases and reports `CliError`s as one line."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.aliases: dict[str, str] = {}

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The command `cmd_name` names, directly or as an alias."""
        return super().get_command(ctx, self.aliases.get(cmd_name, cmd_name))

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command; a `CliError` becomes `deis: <message>` and its exit code."""
        try:
            return super().invoke(ctx)
        except errors.CliError as exc:
            click.echo(f"deis: {exc.message}", err=True)
            ctx.exit(exc.exit_code)


@click.group(cls=DeisGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "-c",
    "--config",
    metavar="PROFILE",
    help="Profile name (~/.deis/PROFILE.json) or path; default $DEIS_PROFILE, else client.",
)
@click.version_option(VERSION, "-v", "--version", prog_name="deis", message="%(version)s")
def cli(config: str | None) -> None:
    """The command-line client of Deis Workflow: apps, config, processes, releases and more.

    The app is -a/--app, else the one the git remote to the builder names, else the current
    directory's name.
    """
    del config  # read by `session.current()` from the root context


@click.command("version")
def version() -> None:
    """Print the client's version."""
    click.echo(VERSION)


def _register(group: DeisGroup) -> None:
    for module in MODULES:
        for command in module.COMMANDS:
            group.add_command(command)
        group.aliases.update(module.ALIASES)
    group.add_command(version)


assert isinstance(cli, DeisGroup)
_register(cli)


def main(argv: Sequence[str] | None = None) -> None:
    """Run `deis` with `argv` (default: the process's arguments); exits with its code."""
    cli.main(args=list(argv) if argv is not None else None, prog_name="deis")


if __name__ == "__main__":
    main()
