"""Local git only: git:remote adds the app's builder remote, git:remove removes it."""

import click

from deis_cli import remotes, rendering
from deis_cli.commands import session
from deis_cli.commands.session import app_option


@click.command("git:remote")
@app_option
@click.option("-r", "--remote", default=remotes.DEFAULT_REMOTE, show_default=True)
@click.option("-f", "--force", is_flag=True, help="Replace an existing remote of that name.")
def add_remote(app: str | None, remote: str, force: bool) -> None:
    """Add a git remote for an app."""
    current = session.current()
    name = current.app(app)
    url = current.builder().remote_url(name)
    remotes.add(remote, url, force=force)
    rendering.echo(f"Git remote {remote} successfully created for app {name}.")


@click.command("git:remove")
@app_option
def remove(app: str | None) -> None:
    """Remove the git remotes of an app."""
    current = session.current()
    name = current.app(app)
    removed = remotes.remove_for(current.builder().remote_url(name))
    if not removed:
        rendering.warn(f"No git remote points at {name}")
    for remote_name in removed:
        rendering.echo(f"Git remote {remote_name} removed")


COMMANDS = [add_remote, remove]
ALIASES: dict[str, str] = {}
