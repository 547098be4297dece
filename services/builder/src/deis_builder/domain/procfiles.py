"""Parsing a Procfile: the process types an app declares and the command each one runs.

The format is Heroku's: one `type: command` per line; blank lines and lines starting with `#`
are ignored. A process type names Kubernetes-style objects later on (`<app>-<type>`), so it must
be a DNS label fragment (`deis_shared.processtypes`): lowercase letters and digits in
dash-separated runs, at most 63 characters. The text is hostile (it comes from a push), so
every refusal is one line, names the line number, and shows user text only escaped and
truncated.
"""

from deis_builder.errors import BuildFailed
from deis_shared import processtypes

_SHOWN = 40  # characters of a bad process type quoted back in an error


def parse_procfile(text: str) -> dict[str, str]:
    """Read a Procfile's process types, in the order they are declared.

    Args:
        text: the Procfile's contents.

    Returns:
        Process type to command; empty when the Procfile declares nothing.

    Raises:
        BuildFailed: a line is not `type: command`, a type is not a valid name, a command is
            empty, or a type is declared twice.
    """
    types: dict[str, str] = {}
    first_seen: dict[str, int] = {}
    for number, raw in enumerate(text.removeprefix("\ufeff").split("\n"), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, colon, command = line.partition(":")
        name, command = name.strip(), command.strip()
        if not colon:
            raise BuildFailed(f"Procfile line {number}: expected 'type: command'")
        if not processtypes.is_valid(name):
            raise BuildFailed(
                f"Procfile line {number}: process type {_shown(name)} must be lowercase letters"
                " and digits, optionally joined by single dashes, at most"
                f" {processtypes.MAX_LENGTH} characters"
            )
        if not command:
            raise BuildFailed(f"Procfile line {number}: process type '{name}' has no command")
        if name in types:
            raise BuildFailed(
                f"Procfile line {number}: process type '{name}' is already declared on line"
                f" {first_seen[name]}"
            )
        types[name] = command
        first_seen[name] = number
    return types


def _shown(name: str) -> str:
    """Quote user text for an error line: escaped (no control characters) and truncated."""
    if len(name) > _SHOWN:
        return repr(name[:_SHOWN]) + "..."
    return repr(name)
