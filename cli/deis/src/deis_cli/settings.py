"""The environment the `deis` command reads, in one place (docs/conventions.md, "Settings").

Every other module receives an `Environment`: `HOME` and `DEIS_PROFILE` locate the client
profile, `DEIS_BUILDER_URL` and `DEIS_ROUTER_URL` override the builder's and the router's
addresses on a one-machine platform, and a display decides whether `deis open` starts a browser.
"""

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Environment:
    """What the environment says about where things are."""

    home: Path
    """The user's home directory: the profile lives in `<home>/.deis/`."""

    profile: str | None
    """`$DEIS_PROFILE`: another profile name (`~/.deis/<name>.json`) or a path to one."""

    builder_url: str | None
    """`$DEIS_BUILDER_URL`, e.g. `ssh://git@127.0.0.1:2223`: the builder's host and port."""

    router_url: str | None
    """`$DEIS_ROUTER_URL`, e.g. `http://localhost:8080`: where apps are served."""

    display: bool
    """Whether a graphical display is available for a web browser."""


def read() -> Environment:
    """The environment as it is now (tests change it between commands)."""
    environ = os.environ
    home = environ.get("HOME")
    return Environment(
        home=Path(home) if home else Path.home(),
        profile=environ.get("DEIS_PROFILE") or None,
        builder_url=environ.get("DEIS_BUILDER_URL") or None,
        router_url=environ.get("DEIS_ROUTER_URL") or None,
        display=bool(environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY")),
    )
