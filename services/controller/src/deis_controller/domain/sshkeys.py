"""SSH public keys users register for `git push`: parse, check, fingerprint (docs/api.md §2.10).

A key is one line, `<type> <base64> [comment]`, as in a `.pub` file. Its fingerprint is the MD5
of the decoded blob, which is what the builder computes from the key a client offers, so the two
meet on that string. The blob must be a well-formed key of the declared type: upstream Deis
only checked the base64, but a blob that no SSH client could offer would register a key that
can never be used. Control characters anywhere are refused, so a key stays one line wherever
it is shown or written.
"""

import base64
import binascii
import hashlib
import re
import struct
from dataclasses import dataclass
from typing import Any

from cryptography import exceptions
from cryptography.hazmat.primitives import serialization

from deis_controller import errors

KEY_TYPES = frozenset(
    {
        "ssh-rsa",
        "ssh-ed25519",
        "ecdsa-sha2-nistp256",
        "ecdsa-sha2-nistp384",
        "ecdsa-sha2-nistp521",
        "ssh-dss",
    }
)
# cryptography warns that its DSA support is going away; such blobs get only the structural check.
_STRUCTURAL_ONLY = frozenset({"ssh-dss"})
MAX_ID_LENGTH = 128
INVALID = "Key contains invalid base64 chars"

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class PublicKey:
    """A checked public key."""

    public: str
    """The key line, trimmed."""
    type: str
    fingerprint: str
    """MD5 of the decoded blob, lowercase hex pairs joined by `:`."""
    comment: str | None


def _invalid() -> errors.FieldErrors:
    return errors.FieldErrors.one("public", INVALID)


def _embedded_type(blob: bytes) -> bytes:
    """The type string an SSH wire-format key starts with (RFC 4253 §6.6)."""
    if len(blob) < 4:
        raise _invalid()
    (length,) = struct.unpack(">I", blob[:4])
    if len(blob) < 4 + length:
        raise _invalid()
    return blob[4 : 4 + length]


def fingerprint(blob: bytes) -> str:
    """The MD5 fingerprint of a decoded key blob, as `ssh-keygen -E md5` shows it."""
    return hashlib.md5(blob, usedforsecurity=False).digest().hex(":")


def parse_public_key(public: Any) -> PublicKey:
    """The key in `public`, if it is a well-formed SSH public key of an accepted type.

    Raises:
        FieldErrors: On `public`: "This field may not be blank." or Deis's
            "Key contains invalid base64 chars" for anything else wrong with it.
    """
    if not isinstance(public, str):
        raise errors.FieldErrors.one("public", "Not a valid string.")
    line = public.strip()
    if not line:
        raise errors.FieldErrors.one("public", "This field may not be blank.")
    if _CONTROL.search(line):
        raise _invalid()
    fields = line.split(None, 2)
    if len(fields) < 2 or fields[0] not in KEY_TYPES:
        raise _invalid()
    key_type, encoded = fields[0], fields[1]
    try:
        blob = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise _invalid() from exc
    # Only the canonical encoding: one blob, one text, so one fingerprint and one stored key.
    if base64.b64encode(blob).decode() != encoded:
        raise _invalid()
    if _embedded_type(blob) != key_type.encode():
        raise _invalid()
    if key_type not in _STRUCTURAL_ONLY:
        try:
            serialization.load_ssh_public_key(f"{key_type} {encoded}".encode())
        except (ValueError, exceptions.UnsupportedAlgorithm) as exc:
            raise _invalid() from exc
    return PublicKey(
        public=line,
        type=key_type,
        fingerprint=fingerprint(blob),
        comment=fields[2] if len(fields) > 2 else None,
    )


def validate_key_id(value: Any) -> str:
    """The key's id (its name), trimmed as DRF does: 1 to 128 characters, not blank.

    Raises:
        FieldErrors: On `id`, with DRF's messages.
    """
    if not isinstance(value, str):
        raise errors.FieldErrors.one("id", "Not a valid string.")
    key_id = value.strip()
    if not key_id:
        raise errors.FieldErrors.one("id", "This field may not be blank.")
    if len(key_id) > MAX_ID_LENGTH:
        raise errors.FieldErrors.one(
            "id", f"Ensure this field has no more than {MAX_ID_LENGTH} characters."
        )
    return key_id
