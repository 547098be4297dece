"""The client profile: `~/.deis/client.json` in the format of Deis's own CLI.

Fields: `username`, `ssl_verify`, `controller`, `token`, `response_limit`. `$DEIS_PROFILE` (or
`deis -c NAME`) selects `~/.deis/<NAME>.json`; a value with a `/` or ending in `.json` is a path
to the file itself. The file holds a token, so it is written with mode 0600 and its directory
with 0700.
"""

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from deis_cli import errors
from deis_cli.settings import Environment

DEFAULT_NAME = "client"
"""The profile used when none is selected."""

DEFAULT_LIMIT = 100
"""Page size asked of the controller when the profile says 0 (as Deis does)."""


@dataclass
class Profile:
    """A saved login."""

    controller: str = ""
    token: str = ""
    username: str = ""
    ssl_verify: bool = True
    response_limit: int = 0

    @property
    def limit(self) -> int:
        """The page size for list calls."""
        return self.response_limit if self.response_limit > 0 else DEFAULT_LIMIT

    def require_login(self) -> None:
        """Raise unless the profile can call the controller as a user.

        Raises:
            NotLoggedIn: No controller or no token.
        """
        if not self.controller or not self.token:
            raise errors.NotLoggedIn()


def path_for(env: Environment, name: str | None = None) -> Path:
    """The profile file for `name`, else `$DEIS_PROFILE`, else `client`."""
    chosen = name or env.profile or DEFAULT_NAME
    if "/" in chosen or chosen.endswith(".json"):
        path = Path(chosen).expanduser()
        return path if path.suffix == ".json" else path.with_name(path.name + ".json")
    return env.home / ".deis" / f"{chosen}.json"


def load(path: Path) -> Profile:
    """The profile in `path`; an empty one if the file does not exist.

    Raises:
        CliError: The file exists but is not a JSON object.
    """
    try:
        text = path.read_text()
    except FileNotFoundError:
        return Profile()
    except OSError as exc:
        raise errors.CliError(f"cannot read {path}: {exc.strerror}") from exc
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise errors.CliError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise errors.CliError(f"{path} does not hold a JSON object")
    limit = data.get("response_limit")
    return Profile(
        controller=str(data.get("controller") or ""),
        token=str(data.get("token") or ""),
        username=str(data.get("username") or ""),
        ssl_verify=bool(data.get("ssl_verify", True)),
        response_limit=limit if isinstance(limit, int) else 0,
    )


def save(path: Path, profile: Profile) -> None:
    """Write `profile` to `path`, readable by its owner only."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as stream:
        os.fchmod(stream.fileno(), 0o600)  # an older file may have been wider
        json.dump(asdict(profile), stream, indent=2)
        stream.write("\n")


def delete(path: Path) -> bool:
    """Remove the profile file; whether there was one."""
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True
