"""KV bucket `challenges`, key `<token>`: ACME HTTP-01 answers every router must serve.

Written by the controller's certificate issuer while an order of its waits for validation, and
deleted once the order is done; watched by every router agent, which answers
`GET http://<domain>/.well-known/acme-challenge/<token>` with `key_authorization` (as
`text/plain`) on its HTTP port, for whatever host asks (the ACME server validates the domain
it chose; the token is unguessable), before any app's routing, HTTPS redirect or whitelist.

The token is the one the ACME server gave (RFC 8555 §8.3: base64url, at least 128 bits), so
it is also the key.
"""

import re
from typing import Final, Literal

from pydantic import Field

from deis_shared import appnames, wire
from deis_shared.kv import bucket, hosts

BUCKET: Final = "challenges"
"""Name of the KV bucket."""

TOKEN_PATTERN: Final = r"^[A-Za-z0-9_-]{22,128}$"
"""A token as ACME servers make them: base64url without padding, 128 bits or more."""

PATH_PREFIX: Final = "/.well-known/acme-challenge/"
"""Where HTTP-01 answers are served (RFC 8555 §8.3)."""


def key(token: str) -> str:
    """Key of a challenge: its token, validated.

    Raises:
        ValueError: `token` is not a base64url token of 22 to 128 characters.
    """
    if re.fullmatch(TOKEN_PATTERN, token) is None:
        raise ValueError(f"not an ACME token: {token!r}")
    return token


class Challenge(wire.Message):
    """The answer to one HTTP-01 challenge."""

    schema_version: Literal[1] = Field(1, alias="schema")

    token: str = Field(pattern=TOKEN_PATTERN)
    key_authorization: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,300}$")
    """`<token>.<account key thumbprint>`: the whole body of the answer."""
    app: appnames.AppName
    """The app whose domain is validated (for logs)."""
    domain: hosts.Domain
    """The domain being validated (for logs)."""


SPEC: Final = bucket.Bucket(name=BUCKET, model=Challenge, key=key)
"""The bucket as `deis_shared.bus.kv` reads and writes it."""
