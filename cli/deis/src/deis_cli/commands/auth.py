"""Accounts: register, login, logout, whoami, passwd, cancel, regenerate; users:list.

`register` and `login` first check that the URL is a Deis controller (`GET /v2/` must answer
401 without a token), as Deis does. Tokens are written to the profile, never printed.
"""

import click

from deis_cli import client, errors, profile, rendering
from deis_cli.commands import session
from deis_cli.commands.session import json_option


def normalize(url: str) -> str:
    """A controller URL with a scheme and no trailing slash."""
    url = url.strip().rstrip("/")
    if "://" not in url:
        url = f"http://{url}"
    return url


def check_controller(api: client.Client) -> None:
    """Refuse a URL that is not a Deis controller.

    Raises:
        CliError: `GET /v2/` without a token did not answer 401.
    """
    answer = api.request("GET", "/v2/", ok=tuple(range(400, 600)))
    if answer.status_code != 401:
        raise errors.CliError(f"{api.controller} does not appear to be a valid Deis controller.")


def _login(
    current: session.Session, *, url: str, username: str, password: str, verify: bool
) -> None:
    with client.Client(url, ssl_verify=verify) as api:
        check_controller(api)
        answer = api.post("/v2/auth/login/", {"username": username, "password": password})
    token = answer.get("token") if isinstance(answer, dict) else None
    if not isinstance(token, str) or not token:
        raise errors.CliError("the controller's login answer holds no token")
    current.profile = profile.Profile(
        controller=url,
        token=token,
        username=username,
        ssl_verify=verify,
        response_limit=current.profile.response_limit,
    )
    current.save()
    rendering.echo(f"Logged in as {username}")
    rendering.echo(f"Configuration file written to {current.path}")


@click.command("auth:register")
@click.argument("controller")
@click.option("--username", help="The new user's name (prompted if missing).")
@click.option("--password", help="The new user's password (prompted if missing).")
@click.option("--email", help="The new user's email address (prompted if missing).")
@click.option("--ssl-verify/--no-ssl-verify", default=True, help="Check the TLS certificate.")
@click.option("--login/--no-login", default=True, help="Log in as the new user.")
def register(
    controller: str,
    username: str | None,
    password: str | None,
    email: str | None,
    ssl_verify: bool,
    login: bool,
) -> None:
    """Register a new user with a controller (the first user becomes an admin)."""
    current = session.current()
    url = normalize(controller)
    username = username or click.prompt("username")
    password = password or click.prompt(
        "password", hide_input=True, confirmation_prompt="password (confirm)"
    )
    if email is None:
        email = click.prompt("email", default="", show_default=False)
    # An admin registers others while logged in (registration mode `admin_only`).
    token = current.profile.token if normalize(current.profile.controller or "-") == url else ""
    with client.Client(url, ssl_verify=ssl_verify) as anonymous:
        check_controller(anonymous)
    with client.Client(url, token=token, ssl_verify=ssl_verify) as api:
        body = {"username": username, "password": password}
        if email:
            body["email"] = email
        created = api.post("/v2/auth/register/", body)
    rendering.echo(f"Registered {username}")
    if isinstance(created, dict) and created.get("is_superuser"):
        rendering.echo(f"{username} is an administrator (the first user of this controller)")
    if login:
        _login(current, url=url, username=username, password=password, verify=ssl_verify)


@click.command("auth:login")
@click.argument("controller")
@click.option("--username", help="Prompted if missing.")
@click.option("--password", help="Prompted if missing.")
@click.option("--ssl-verify/--no-ssl-verify", default=True, help="Check the TLS certificate.")
def login(controller: str, username: str | None, password: str | None, ssl_verify: bool) -> None:
    """Log in to a controller and save the token in the profile."""
    current = session.current()
    url = normalize(controller)
    username = username or click.prompt("username")
    password = password or click.prompt("password", hide_input=True)
    _login(current, url=url, username=username, password=password, verify=ssl_verify)


@click.command("auth:logout")
def logout() -> None:
    """Log out: forget the profile's token."""
    current = session.current()
    profile.delete(current.path)
    rendering.echo("Logged out")


@click.command("auth:whoami")
@click.option("--all", "everything", is_flag=True, help="Ask the controller for every field.")
@json_option
def whoami(everything: bool, as_json: bool) -> None:
    """Show the user the profile is logged in as."""
    current = session.current()
    current.profile.require_login()
    if not everything and not as_json:
        rendering.echo(f"You are {current.profile.username} at {current.profile.controller}")
        return
    with current.client() as api:
        user = api.get("/v2/auth/whoami/")
    if as_json:
        rendering.emit_json(user)
        return
    rendering.mapping(user, empty="")


@click.command("auth:passwd")
@click.option("--username", help="Change another user's password (admins only).")
@click.option("--password", help="The current password (prompted if needed).")
@click.option("--new-password", help="The new password (prompted if missing).")
def passwd(username: str | None, password: str | None, new_password: str | None) -> None:
    """Change a password."""
    current = session.current()
    current.profile.require_login()
    body: dict[str, str] = {}
    if username:
        body["username"] = username
    elif password is None:
        password = click.prompt("current password", hide_input=True)
    if password:
        body["password"] = password
    body["new_password"] = new_password or click.prompt(
        "new password", hide_input=True, confirmation_prompt="new password (confirm)"
    )
    with current.client() as api, rendering.progress("Changing password"):
        api.post("/v2/auth/passwd/", body)
    rendering.echo("Password change succeeded.")


@click.command("auth:cancel")
@click.option("--username", help="Cancel another user's account (admins only).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--confirm", metavar="USERNAME", help="Confirm by naming the account.")
def cancel(username: str | None, yes: bool, confirm: str | None) -> None:
    """Remove an account (your own by default)."""
    current = session.current()
    current.profile.require_login()
    target = username or current.profile.username
    if not yes and not rendering.confirm_name(
        action=f"cancel the account {target} at {current.profile.controller}",
        expected=target,
        given=confirm,
    ):
        raise errors.Aborted(f"Account {target} not cancelled: confirmation did not match.")
    with current.client() as api:
        api.request("DELETE", "/v2/auth/cancel/", body={"username": username} if username else None)
    rendering.echo(f"Account cancelled: {target}")
    if target == current.profile.username:
        profile.delete(current.path)


@click.command("auth:regenerate")
@click.option("-u", "--username", help="Regenerate another user's token (admins only).")
@click.option("--all", "everyone", is_flag=True, help="Regenerate every user's token (admins).")
def regenerate(username: str | None, everyone: bool) -> None:
    """Replace a token; the old one stops working at once."""
    current = session.current()
    body: dict[str, object] = {}
    if everyone:
        body["all"] = True
    elif username:
        body["username"] = username
    with current.client() as api:
        answer = api.post("/v2/auth/tokens/", body)
    own = not everyone and username in (None, current.profile.username)
    if own and isinstance(answer, dict) and isinstance(answer.get("token"), str):
        current.profile.token = answer["token"]
        current.save()
        rendering.echo(f"Token regenerated; the new one is saved in {current.path}")
    elif everyone:
        rendering.echo("Every token regenerated; log in again.")
    else:
        rendering.echo(f"Token of {username} regenerated; they must log in again.")


@click.command("users:list")
@json_option
def users_list(as_json: bool) -> None:
    """List the users of the platform (admins only)."""
    current = session.current()
    with current.client() as api:
        found, count = api.page("/v2/users/", limit=current.profile.limit)
    if as_json:
        rendering.emit_json({"count": count, "results": found})
        return
    rendering.heading("Users")
    rendering.show_table(
        [(user["username"], "admin" if user.get("is_superuser") else "") for user in found]
    )


COMMANDS = [register, login, logout, whoami, passwd, cancel, regenerate, users_list]
ALIASES = {
    "register": "auth:register",
    "login": "auth:login",
    "logout": "auth:logout",
    "whoami": "auth:whoami",
    "auth:tokens": "auth:regenerate",
    "users": "users:list",
}
