"""Unique resource names, so that tests sharing one server never see each other's state."""

import secrets


def unique_name(prefix: str = "t") -> str:
    """Return `prefix` and 10 random hex digits: a valid stream, bucket, schema or database name."""
    return f"{prefix}{secrets.token_hex(5)}"
