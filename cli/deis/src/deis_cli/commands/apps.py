"""Apps: create (with the `deis` git remote), list, info, open, destroy, transfer."""

import webbrowser
from typing import Any

import click

from deis_cli import errors, remotes, rendering
from deis_cli.commands import session
from deis_cli.commands.session import app_option, app_path, json_option


@click.command("apps:create")
@click.argument("name", required=False)
@click.option("-b", "--buildpack", help="A buildpack URL to build the app with.")
@click.option("-r", "--remote", default=remotes.DEFAULT_REMOTE, show_default=True)
@click.option("--no-remote", is_flag=True, help="Do not add a git remote.")
@json_option
def create(
    name: str | None, buildpack: str | None, remote: str, no_remote: bool, as_json: bool
) -> None:
    """Create an app (with a generated name if none is given) and its git remote."""
    current = session.current()
    with current.client() as api:
        with rendering.progress("Creating Application"):
            app = api.post("/v2/apps/", {"id": name} if name else {})
        app_id = str(app["id"])
        if buildpack:
            api.post(app_path(app_id, "config"), {"values": {"BUILDPACK_URL": buildpack}})
    if as_json:
        rendering.emit_json(app)
    else:
        rendering.echo(f"Created {app_id}")
    if no_remote:
        rendering.warn("remote available at " + current.builder().remote_url(app_id))
        return
    url = current.builder().remote_url(app_id)
    try:
        remotes.add(remote, url)
    except errors.CliError as exc:
        # The app exists now: say why there is no remote, and how to add it, but succeed.
        rendering.warn(f"deis: {exc.message}")
        rendering.warn(f"remote available at {url}")
        return
    note = f"Git remote {remote} successfully created for app {app_id}."
    (rendering.warn if as_json else rendering.echo)(note)


@click.command("apps:list")
@json_option
def list_apps(as_json: bool) -> None:
    """List the apps you can use."""
    current = session.current()
    with current.client() as api:
        found, count = api.page("/v2/apps/", limit=current.profile.limit)
    if as_json:
        rendering.emit_json({"count": count, "results": found})
        return
    rendering.heading("Apps")
    for app in found:
        rendering.echo(str(app["id"]))


def _pods(api: Any, app: str) -> dict[str, Any]:
    try:
        data = api.get(app_path(app, "pods"))
    except errors.ApiError as exc:
        rendering.warn(f"deis: processes unavailable: {exc.message}")
        return {"results": [], "count": 0}
    return data if isinstance(data, dict) else {"results": [], "count": 0}


def render_pods(app: str, pods: list[dict[str, Any]]) -> None:
    """Pods grouped by type, Deis style: `name state (release)`."""
    rendering.heading(f"{app} Processes")
    kinds = sorted({str(pod.get("type")) for pod in pods})
    for kind in kinds:
        rendering.echo(f"--- {kind}:")
        for pod in pods:
            if str(pod.get("type")) == kind:
                rendering.echo(f"{pod.get('name')} {pod.get('state')} ({pod.get('release')})")


@click.command("apps:info")
@app_option
@json_option
def info(app: str | None, as_json: bool) -> None:
    """Show an app: its fields, URL, processes, domains and labels."""
    current = session.current()
    with current.client() as api:
        name = current.app(app)
        found = api.get(app_path(name))
        pods = _pods(api, name)
        domains, _ = api.page(app_path(name, "domains"), limit=current.profile.limit)
        settings = api.get(app_path(name, "settings"))
    if as_json:
        rendering.emit_json({"app": found, "pods": pods, "domains": domains, "settings": settings})
        return
    url = current.app_url(str(domains[0]["domain"])) if domains else ""
    rendering.heading(f"{name} Application")
    fields = ["uuid", "id", "owner", "created", "updated"]
    rendering.show_table(
        [(f"{field}:", found.get(field, "")) for field in fields] + [("url:", url)]
    )
    rendering.echo()
    render_pods(name, list(pods.get("results") or []))
    rendering.echo()
    rendering.heading(f"{name} Domains")
    for domain in domains:
        rendering.echo(str(domain["domain"]))
    rendering.echo()
    rendering.heading(f"{name} Label")
    labels = settings.get("label") if isinstance(settings, dict) else None
    rendering.mapping(labels or {}, empty="No labels found.")


@click.command("apps:open")
@app_option
def open_app(app: str | None) -> None:
    """Print the app's URL, and open it in a browser when a display is available."""
    current = session.current()
    with current.client() as api:
        name = current.app(app)
        domains, _ = api.page(app_path(name, "domains"), limit=1)
    if not domains:
        raise errors.CliError(f"{name} has no domain; add one with 'deis domains:add'")
    url = current.app_url(str(domains[0]["domain"]))
    rendering.echo(url)
    if current.env.display:
        webbrowser.open(url)


@click.command("apps:destroy")
@app_option
@click.option("--confirm", metavar="APP", help="Skip the prompt by naming the app.")
def destroy(app: str | None, confirm: str | None) -> None:
    """Destroy an app, its releases, processes and domains."""
    current = session.current()
    with current.client() as api:
        name = current.app(app)
        if not rendering.confirm_name(
            action=f"destroy the application: {name}", expected=name, given=confirm
        ):
            raise errors.Aborted(f"App {name} does not match the confirmation; aborting.")
        with rendering.progress(f"Destroying {name}"):
            api.delete(app_path(name))
    for removed in remotes.remove_for(current.builder().remote_url(name)):
        rendering.echo(f"Git remote {removed} removed")


@click.command("apps:transfer")
@click.argument("username")
@app_option
def transfer(username: str, app: str | None) -> None:
    """Give an app to another user."""
    current = session.current()
    with current.client() as api:
        name = current.app(app)
        with rendering.progress(f"Transferring {name} to {username}"):
            api.post(app_path(name), {"owner": username})


COMMANDS = [create, list_apps, info, open_app, destroy, transfer]
ALIASES = {
    "create": "apps:create",
    "apps": "apps:list",
    "info": "apps:info",
    "open": "apps:open",
    "destroy": "apps:destroy",
}
