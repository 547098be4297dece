"""The routers that serve the platform, and whether every live one serves a change yet.

Each router agent keeps a key in KV `routers` (`deis_shared.kv.routers`): written when it
serves what KV held at its start, then every heartbeat and after every change it applied,
with how far it has come in KV `endpoints` (a stream sequence). `RouterSet` follows that
bucket. A release's old processes stop only once `served(sequence)` says every live router
serves the `endpoints` put that left them out, or once the deadline passed (then the laggards
are named, so that the stop can be reported).

A router is live while its last put arrived here less than `LAPSE_BEATS` of its heartbeats
ago: time of arrival, not the agent's clock, so clocks that disagree across machines do not
matter. A router that died is dropped from the set when its heartbeats lapse; one whose key
was deleted (it stopped with its nginx) at once. Until the watch has read the whole bucket,
nobody is known, and a wait waits for that too (within its deadline).
"""

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable

from deis_shared import wire
from deis_shared.bus import connection, errors as bus_errors, kv
from deis_shared.kv import routers as routers_kv

logger = logging.getLogger(__name__)

RECHECK_SECONDS = 0.25
"""How often a wait looks again at which routers are live, when no put arrives."""


@dataclasses.dataclass(frozen=True, slots=True)
class Member:
    """A router's latest key, and when it arrived (`time.monotonic()`)."""

    value: routers_kv.RouterMember
    arrived: float

    def alive(self, now: float) -> bool:
        """Whether the router put its key within `LAPSE_BEATS` heartbeats before `now`."""
        return now - self.arrived <= routers_kv.LAPSE_BEATS * self.value.heartbeat_seconds


@dataclasses.dataclass(frozen=True, slots=True)
class Served:
    """The answer of a wait: whether every live router serves the change, and who does not."""

    everywhere: bool
    lagging: tuple[str, ...] = ()
    """Live routers that did not serve it by the deadline (their agent names)."""


class RouterSet:
    """The router agents of KV `routers`, followed by `follow()`."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.members: dict[str, Member] = {}
        self.synced = asyncio.Event()
        """Set once the watch delivered every key the bucket held (or it held none)."""
        self._changed = asyncio.Condition()

    async def follow(
        self, watch: Callable[[], kv.Watcher[routers_kv.RouterMember]], *, empty: bool
    ) -> None:
        """Feed the bucket's entries into the set; runs until cancelled.

        `empty`: the bucket held nothing when this started (the watch would deliver nothing).
        """
        if empty:
            self.synced.set()
        watcher = watch()
        try:
            async for entry in watcher:
                await self.offer(entry)
        finally:
            await watcher.close()

    async def offer(self, entry: kv.Entry[routers_kv.RouterMember]) -> None:
        """Take one entry of the watch."""
        try:
            value = entry.value()
        except wire.InvalidPayload as error:
            logger.error("ignoring router key %r: %s", entry.key, error)
        else:
            if value is None:
                self.members.pop(entry.key, None)
            else:
                self.members[entry.key] = Member(value=value, arrived=self._clock())
        if entry.pending == 0:
            self.synced.set()
        async with self._changed:
            self._changed.notify_all()

    def lagging(self, sequence: int) -> tuple[str, ...]:
        """The live routers that do not serve KV `endpoints` up to `sequence` yet."""
        now = self._clock()
        return tuple(
            sorted(
                member.value.agent
                for member in self.members.values()
                if member.alive(now) and member.value.endpoints_sequence < sequence
            )
        )

    async def served(self, sequence: int, *, seconds: float) -> Served:
        """Wait until every live router serves KV `endpoints` up to `sequence`.

        Returns at once when no router is live (nobody routes to anything). After `seconds`,
        returns the routers still behind.
        """
        deadline = self._clock() + seconds
        while True:
            remaining = deadline - self._clock()
            if self.synced.is_set():
                lagging = self.lagging(sequence)
                if not lagging:
                    return Served(everywhere=True)
                if remaining <= 0:
                    return Served(everywhere=False, lagging=lagging)
            elif remaining <= 0:
                return Served(everywhere=False, lagging=("(routers not read yet)",))
            async with self._changed:
                try:
                    async with asyncio.timeout(min(remaining, RECHECK_SECONDS)):
                        await self._changed.wait()
                except TimeoutError:
                    pass


async def bucket_is_empty(js: connection.JetStream) -> bool:
    """Whether KV `routers` holds no message at all (a watch of it would deliver nothing)."""
    try:
        return await kv.count(js, routers_kv.SPEC) == 0
    except bus_errors.BusError:
        return False
