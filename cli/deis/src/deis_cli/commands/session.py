"""What every command needs: the profile, a client for the controller, the app to work on.

The app is `-a/--app` when given, else the one the working copy's builder remote names, else the
current directory's name lowercased (docs/api.md §4).
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from deis_cli import addresses, client, profile, remotes, rendering, settings


@dataclass
class Session:
    """The environment and the profile of one command."""

    env: settings.Environment
    path: Path
    profile: profile.Profile

    def client(self) -> client.Client:
        """A client logged in as the profile's user.

        Raises:
            NotLoggedIn: The profile has no controller or token.
        """
        self.profile.require_login()
        return client.Client(
            self.profile.controller, token=self.profile.token, ssl_verify=self.profile.ssl_verify
        )

    def builder(self) -> addresses.Builder:
        """The builder of the profile's controller (or `$DEIS_BUILDER_URL`)."""
        self.profile.require_login()
        return addresses.builder(self.profile.controller, self.env.builder_url)

    def app(self, given: str | None) -> str:
        """The app a command works on."""
        if given:
            return given
        found = remotes.find_app(self.builder())
        return found or Path.cwd().name.lower()

    def app_url(self, domain: str) -> str:
        """The URL an app's domain is served at."""
        return addresses.app_url(
            controller=self.profile.controller, domain=domain, router=self.env.router_url
        )

    def save(self) -> None:
        """Write the profile back."""
        profile.save(self.path, self.profile)


def current() -> Session:
    """The session of the running command (`deis -c NAME` selects another profile)."""
    root = click.get_current_context().find_root()
    env = settings.read()
    path = profile.path_for(env, root.params.get("config"))
    return Session(env=env, path=path, profile=profile.load(path))


def app_option(function: Any) -> Any:
    """`-a/--app NAME`."""
    return click.option(
        "-a",
        "--app",
        "app",
        default=None,
        metavar="APP",
        help="The app (default: from the git remote, else the directory's name).",
    )(function)


def json_option(function: Any) -> Any:
    """`--json`: print the controller's raw JSON instead of a table."""
    return click.option("--json", "as_json", is_flag=True, help="Print the controller's raw JSON.")(
        function
    )


def app_path(app: str, *rest: str) -> str:
    """`/v2/apps/<app>/<rest...>/`, with Deis's trailing slash."""
    return "/".join(["/v2/apps", app, *rest]) + "/"


def change_config(app: str | None, body: dict[str, Any], *, message: str) -> tuple[str, Any]:
    """POST `body` to the app's config (a new release), with progress; (app, new config)."""
    current_session = current()
    with current_session.client() as api:
        name = current_session.app(app)
        with rendering.progress(message):
            config = api.post(app_path(name, "config"), body)
    return name, config
