"""Passwords and API tokens.

Passwords are hashed with argon2id. Tokens are 40 lowercase hex characters, the form the
`deis` CLI expects, and only their SHA-256 is stored: a database dump yields no usable token.
A fast hash is enough for tokens because they carry 160 random bits.
"""

import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

TOKEN_BYTES = 20
"""160 random bits: 40 hex characters."""


class Passwords:
    """Hashes and checks passwords with argon2id at the configured cost."""

    def __init__(self, *, time_cost: int, memory_cost: int) -> None:
        self._hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=1)

    def hash(self, password: str) -> str:
        """The encoded argon2id hash of `password`."""
        return self._hasher.hash(password)

    def verify(self, encoded: str, password: str) -> bool:
        """Whether `password` matches `encoded`; a malformed hash never matches."""
        try:
            return self._hasher.verify(encoded, password)
        except (VerificationError, InvalidHashError):
            return False


def new_token() -> str:
    """A fresh random API token: 40 lowercase hex characters."""
    return secrets.token_hex(TOKEN_BYTES)


def token_hash(token: str) -> bytes:
    """What is stored for `token`: its SHA-256 digest."""
    return hashlib.sha256(token.encode()).digest()
