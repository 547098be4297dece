"""App-name validation: the security boundary every app name crosses before it is used.

An app name ends up in NATS subjects (`deis.events.build.<app>.completed`), KV keys, object
keys (`slugs/<app>/...`), paths under the git root, nginx configuration, Kubernetes namespaces
and DNS labels. A `.`, `*` or `>` would widen a subject or a wildcard subscription, a `/` or
`..` would escape a directory, whitespace or a NUL would split a command or a config line. So
every name is checked here, once, against Deis's own rule (docs/api.md §2.2): lowercase ASCII
letters, digits and hyphens, starting with a letter, not ending with a hyphen, at most 63
characters (one DNS label). Reserved names are a controller policy, not part of this check.

`AppName` is the same check as a pydantic type, used by every wire model's `app` field.
"""

import re
from typing import Annotated

from pydantic import AfterValidator, WithJsonSchema

from deis_shared import errors

MAX_APP_NAME_LENGTH = 63
"""Longest app name: one DNS label."""

APP_NAME_PATTERN = re.compile(r"[a-z](?:[a-z0-9-]*[a-z0-9])?", re.ASCII)
"""Deis's app-name rule; match it with `fullmatch` (a `$` anchor would accept a final newline)."""


class InvalidAppName(errors.PermanentError):
    """A string that is not a valid app name; the message says why in one line."""


def validate_app_name(name: str) -> str:
    """Check that `name` is a valid app name and return it unchanged.

    Args:
        name: The candidate, from a user, a URL, an SSH command or a wire payload.

    Returns:
        `name` itself, so the call can wrap an expression.

    Raises:
        InvalidAppName: `name` is empty, longer than 63 characters, or breaks the character
            rule.
    """
    if not name:
        raise InvalidAppName("app name is empty")
    if len(name) > MAX_APP_NAME_LENGTH:
        raise InvalidAppName(
            f"app name is {len(name)} characters long; the limit is {MAX_APP_NAME_LENGTH}"
        )
    if APP_NAME_PATTERN.fullmatch(name) is None:
        raise InvalidAppName(
            f"invalid app name {name!r}: it must start with a letter a-z, contain only a-z, "
            "0-9 and hyphens, and not end with a hyphen"
        )
    return name


def _validate_field(name: str) -> str:
    # pydantic turns only ValueError into a ValidationError; anything else would escape raw.
    try:
        return validate_app_name(name)
    except InvalidAppName as error:
        raise ValueError(str(error)) from error


AppName = Annotated[
    str,
    AfterValidator(_validate_field),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": f"^{APP_NAME_PATTERN.pattern}$",
            "minLength": 1,
            "maxLength": MAX_APP_NAME_LENGTH,
        }
    ),
]
"""An app name as a pydantic field type: validated by `validate_app_name`."""
