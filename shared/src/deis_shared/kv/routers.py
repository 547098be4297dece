"""KV bucket `routers`, key `<agent>`: the router agents that serve, and what each has applied.

Written by each router agent: first once nginx serves everything KV held when it started, then
every `heartbeat_seconds` and after every change it applied; deleted when the agent stops
with its nginx (`deisctl down`). Watched by the scheduler, which stops a release's old
processes only once every live router serves the endpoints that replaced them: a router is
live while its last heartbeat is younger than `LAPSE_BEATS` heartbeats, so one that died is
dropped from the set without anybody deleting its key.

`endpoints_sequence` is how far the agent has come in KV `endpoints`: every put and delete of
that bucket up to this stream sequence is live in its nginx (or was refused, and reported as
`router.rejected`). A writer of endpoints learns its put's sequence, so "every live router
serves my change" is `endpoints_sequence >= my sequence` for each of them.
"""

import re
from datetime import datetime, timedelta
from typing import Final, Literal

from pydantic import Field

from deis_shared import wire
from deis_shared.kv import bucket

BUCKET = "routers"
"""Name of the KV bucket."""

MAX_AGE = 86400.0
"""Seconds a key outlives its last put: a router gone for a day leaves no trace."""

LAPSE_BEATS = 3
"""Heartbeats a router may miss before it counts as gone."""

AGENT_PATTERN = r"^[A-Za-z0-9]([A-Za-z0-9_-]{0,251}[A-Za-z0-9])?$"
"""What an agent name may be, to be a KV key of one token (a host or pod name; no dots)."""


def key(agent: str) -> str:
    """Key of a router agent: its name, dots (a host's domain) turned into `_`.

    Raises:
        ValueError: the name cannot be a key.
    """
    name = agent.replace(".", "_")
    if re.fullmatch(AGENT_PATTERN, name) is None:
        raise ValueError(f"router agent name {agent!r} cannot be a KV key")
    return name


class RouterMember(wire.Message):
    """One router agent: alive as of `ts`, serving KV `endpoints` up to `endpoints_sequence`."""

    schema_version: Literal[1] = Field(1, alias="schema")

    agent: str = Field(min_length=1, max_length=253)
    """The agent's name, as in its `router.applied` events."""
    started_at: wire.UtcDatetime
    """When this agent process started."""
    heartbeat_seconds: float = Field(gt=0, le=3600)
    """How often the agent writes its key when nothing changes."""
    endpoints_sequence: int = Field(ge=0)
    """Every change of KV `endpoints` up to this stream sequence is served (0: none seen)."""
    revision: int = Field(ge=0)
    """The agent's last revision live in nginx."""

    def alive(self, now: datetime) -> bool:
        """Whether the agent wrote its key within `LAPSE_BEATS` heartbeats before `now`."""
        return now - self.ts <= timedelta(seconds=LAPSE_BEATS * self.heartbeat_seconds)


SPEC: Final = bucket.Bucket(name=BUCKET, model=RouterMember, key=key)
"""The bucket as `deis_shared.bus.kv` reads and writes it."""
