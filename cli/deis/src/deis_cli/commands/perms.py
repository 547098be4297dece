"""Sharing: perms:list, create, delete, for an app or (`--admin`) the platform (§2.9, §2.1)."""

import click

from deis_cli import rendering
from deis_cli.commands import session
from deis_cli.commands.session import app_option, app_path, json_option


@click.command("perms:list")
@app_option
@click.option("--admin", is_flag=True, help="List the administrators instead.")
@json_option
def list_perms(app: str | None, admin: bool, as_json: bool) -> None:
    """List an app's collaborators, or the administrators."""
    current = session.current()
    with current.client() as api:
        if admin:
            found, count = api.page("/v2/admin/perms/", limit=current.profile.limit)
            if as_json:
                rendering.emit_json({"count": count, "results": found})
                return
            rendering.heading("Administrators")
            for user in found:
                rendering.echo(str(user["username"]))
            return
        name = current.app(app)
        perms = api.get(app_path(name, "perms"))
    if as_json:
        rendering.emit_json(perms)
        return
    rendering.heading(f"{name}'s Users")
    for user in perms.get("users") or []:
        rendering.echo(str(user))


@click.command("perms:create")
@click.argument("username")
@app_option
@click.option("--admin", is_flag=True, help="Make the user an administrator instead.")
def create(username: str, app: str | None, admin: bool) -> None:
    """Let a user use an app (or make them an administrator)."""
    current = session.current()
    with current.client() as api:
        if admin:
            with rendering.progress(f"Adding {username} to system administrators"):
                api.post("/v2/admin/perms/", {"username": username})
            return
        name = current.app(app)
        with rendering.progress(f"Adding {username} to {name} collaborators"):
            api.post(app_path(name, "perms"), {"username": username})


@click.command("perms:delete")
@click.argument("username")
@app_option
@click.option("--admin", is_flag=True, help="Revoke administrator rights instead.")
def delete(username: str, app: str | None, admin: bool) -> None:
    """Revoke a user's access to an app (or their administrator rights)."""
    current = session.current()
    with current.client() as api:
        if admin:
            with rendering.progress(f"Removing {username} from system administrators"):
                api.delete(f"/v2/admin/perms/{username}")
            return
        name = current.app(app)
        with rendering.progress(f"Removing {username} from {name} collaborators"):
            api.delete(f"/v2/apps/{name}/perms/{username}")


COMMANDS = [list_perms, create, delete]
ALIASES = {
    "perms": "perms:list",
    "sharing": "perms:list",
    "sharing:list": "perms:list",
    "sharing:add": "perms:create",
    "sharing:remove": "perms:delete",
}
