"""RPCs the controller answers for the builder: who owns an SSH key, may that user push.

Subjects `deis.rpc.controller.key` and `deis.rpc.controller.authorize`; they replace Deis's
`/v2/hooks/key/<fingerprint>` and the app-user check of `/v2/hooks/config`.
"""

from typing import Literal

from pydantic import Field

from deis_shared import appnames, wire

KEY_SUBJECT = "deis.rpc.controller.key"
"""Subject of `KeyLookupRequest` -> `KeyLookupReply`."""

AUTHORIZE_SUBJECT = "deis.rpc.controller.authorize"
"""Subject of `AuthorizeRequest` -> `AuthorizeReply`."""

FINGERPRINT_PATTERN = r"^[0-9a-f]{2}(:[0-9a-f]{2}){15}$"
"""MD5 fingerprint of a public key, lowercase hex pairs joined by `:` (docs/api.md §2.10)."""


class KeyLookupRequest(wire.Message):
    """Who owns the SSH public key with this fingerprint?"""

    schema_version: Literal[1] = Field(1, alias="schema")

    fingerprint: str = Field(pattern=FINGERPRINT_PATTERN)


class KeyLookupReply(wire.Message):
    """The key's owner, or `None` when no user has registered the key."""

    schema_version: Literal[1] = Field(1, alias="schema")

    username: wire.Username | None

    @property
    def found(self) -> bool:
        """Whether a user owns the key."""
        return self.username is not None


class AuthorizeRequest(wire.Message):
    """May `username` push to `app`?"""

    schema_version: Literal[1] = Field(1, alias="schema")

    username: wire.Username
    app: appnames.AppName


class AuthorizeReply(wire.Message):
    """The answer, with a one-line reason the builder shows when refusing."""

    schema_version: Literal[1] = Field(1, alias="schema")

    allowed: bool
    reason: str = ""
    """Why not, e.g. `app myapp does not exist` or `bob may not use app myapp`."""
