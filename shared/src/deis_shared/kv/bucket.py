"""What a KV bucket is to its readers and writers: a name, a value model, and a key rule.

Each module of `deis_shared.kv` describes its bucket once, as `SPEC`, next to its model:
`deis_shared.bus.kv` reads and writes any bucket through that description, so the key a
writer uses is validated the way every reader expects it, and a value is decoded with the
one model the bucket holds.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic

from deis_shared import wire


@dataclass(frozen=True, slots=True)
class Bucket(Generic[wire.M]):
    """One KV bucket: where it is, what its values are, and what its keys may be."""

    name: str
    """The bucket's name (`$KV.<name>.<key>` on the wire)."""

    model: type[wire.M]
    """The model of every value: a whole state, never a delta."""

    key: Callable[[str], str]
    """Turns a name into its key, validated; idempotent (a key gives itself back).

    Raises `InvalidAppName` (app-keyed buckets) or `ValueError` (the others) for a name that
    cannot be a key."""
