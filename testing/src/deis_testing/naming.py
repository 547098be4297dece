"""Unique resource names, so that tests sharing one server never see each other's state."""

import secrets


def unique_name(prefix: str = "t") -> str:
    """Return `prefix` plus 10 random hex digits: valid as a stream, bucket, schema or database name."""
    return f"{prefix}{secrets.token_hex(5)}"
