"""Tell the platform this router serves, and how far: the agent's key in KV `routers`.

The key (`deis_shared.kv.routers`) is first written once nginx serves everything KV held when
the agent started (`service.start` runs this after the first revision), then again whenever
the agent has served further into KV `endpoints`, and at least every `heartbeat_seconds`. The
scheduler waits on it before it stops a release's old processes.

What it reports as served: while the applier has nothing pending (no change waiting, none
being applied, nginx's balancer in sync), every `endpoints` entry read so far, changes or
not; otherwise the last batch's (`Applier.served_sequence`). A put that fails (NATS away)
is logged, and the next beat tries again.

`leave()` deletes the key: for an agent that stops with its nginx, so that nobody waits for
it. An agent that stops and leaves nginx serving keeps its key, which lapses unless the next
agent takes over in time.
"""

import asyncio
import logging
import time

from deis_router_agent.app.applying import Applier
from deis_router_agent.app.table import RoutingTable
from deis_shared import errors, wire
from deis_shared.bus import connection, kv
from deis_shared.kv import routers as routers_kv

logger = logging.getLogger(__name__)


class Membership:
    """Writes this agent's key in KV `routers`; `run()` until cancelled."""

    def __init__(
        self,
        *,
        js: connection.JetStream,
        agent: str,
        heartbeat_seconds: float,
        table: RoutingTable,
        applier: Applier,
    ) -> None:
        self._js = js
        self._agent = agent
        self._key = routers_kv.key(agent)
        self._heartbeat = heartbeat_seconds
        self._table = table
        self._applier = applier
        self._started_at = wire.utc_now()
        self.reported: routers_kv.RouterMember | None = None
        """The last value written."""
        self._writing = asyncio.Lock()
        self._left = False

    @property
    def subject(self) -> str:
        """The subject of this agent's key."""
        return kv.subject(routers_kv.BUCKET, self._key)

    def member(self) -> routers_kv.RouterMember:
        """What this agent serves now."""
        applier = self._applier
        served = self._table.endpoints_sequence if applier.settled else applier.served_sequence
        return routers_kv.RouterMember(
            agent=self._agent,
            started_at=self._started_at,
            heartbeat_seconds=self._heartbeat,
            endpoints_sequence=served,
            revision=applier.live or 0,
        )

    async def announce(self) -> bool:
        """Write the key now; whether it was written."""
        async with self._writing:
            if self._left:
                return False
            value = self.member()
            try:
                await kv.put(self._js, routers_kv.SPEC, self._key, value)
            except errors.DeisError as error:
                logger.warning("could not write router key %s: %s", self._key, error)
                return False
            self.reported = value
            return True

    async def run(self) -> None:
        """Announce at once, then on progress and at every heartbeat; silent once left."""
        last = 0.0
        while True:
            if self._left:
                await asyncio.get_running_loop().create_future()  # until cancelled
            self._table.read.clear()
            self._applier.progress.clear()
            due = last + self._heartbeat - time.monotonic()
            reported = self.reported
            value = self.member()
            moved = reported is None or (
                value.endpoints_sequence,
                value.revision,
            ) != (reported.endpoints_sequence, reported.revision)
            if moved or due <= 0:
                if await self.announce():
                    last = time.monotonic()
                due = self._heartbeat
            await self._wait(max(due, 0.01))

    async def _wait(self, seconds: float) -> None:
        read, progress = self._table.read, self._applier.progress
        waits = [asyncio.ensure_future(read.wait()), asyncio.ensure_future(progress.wait())]
        try:
            await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiting in waits:
                waiting.cancel()

    async def leave(self) -> None:
        """Delete the key, for good: this router no longer serves anything."""
        async with self._writing:
            self._left = True
            try:
                await kv.delete(self._js, routers_kv.SPEC, self._key)
            except errors.DeisError as error:
                logger.warning("could not delete router key %s: %s", self._key, error)
