"""Keep nginx answering the ACME HTTP-01 challenges of KV `challenges`, without a reload.

A watch task follows the bucket into `Answers` (token → key authorization; a value that fails
the model, or whose token is not its key, is ignored with a log). A send task PUTs the whole
set to nginx's agent-only socket (`domain.challenging`, `nginx/deis_acme.lua`) at every
change, and again after every nginx start or adoption: its shared dict lives in its memory
(it survives reloads, not restarts), so the endpoint sync's full send calls `wake`. Neither
holds up nginx's start: the watch starts with the others, the sends once nginx serves. A send
that fails (nginx restarting) is tried again after `RETRY_DELAY`.
"""

import asyncio
import logging

from deis_router_agent.app.context import Context
from deis_router_agent.domain import challenging
from deis_router_agent.errors import NginxFailed, UnsafeValue
from deis_router_agent.nginx import agentsocket
from deis_shared import wire
from deis_shared.bus import kv
from deis_shared.kv import challenges as challenges_kv

logger = logging.getLogger(__name__)

RETRY_DELAY = 1.0
"""Seconds before a send that failed is tried again."""


class Answers:
    """The challenges nginx should answer, and sending them to it."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self.tokens: dict[str, str] = {}
        """Token → key authorization, as KV holds them."""
        self.changed = asyncio.Event()
        """Set when nginx is to be sent the set (it changed, or nginx started)."""
        self.sends = 0
        """Sets nginx took (tests count them)."""

    def wake(self) -> None:
        """Send the set again (nginx (re)started: it holds none)."""
        self.changed.set()

    def offer(self, entry: kv.Entry[challenges_kv.Challenge]) -> None:
        """Take one entry of the watch: a challenge put, or deleted."""
        token = entry.key
        if entry.data is None:
            if self.tokens.pop(token, None) is not None:
                self.changed.set()
            return
        try:
            challenge = entry.value()
            assert challenge is not None  # a put
            if challenge.token != token:
                raise wire.InvalidPayload(f"challenge of token {challenge.token} under another")
            challenges_kv.key(token)
        except (wire.InvalidPayload, ValueError) as error:
            logger.error("ignoring ACME challenge under key %r: %s", token[:80], error)
            return
        if self.tokens.get(token) != challenge.key_authorization:
            self.tokens[token] = challenge.key_authorization
            self.changed.set()
            logger.info(
                "answering ACME challenge %s for %s of app %s",
                token,
                challenge.domain,
                challenge.app,
            )

    async def follow(self, watcher: kv.Watcher[challenges_kv.Challenge]) -> None:
        """Feed every entry of `watcher` into the set, then close it; runs until cancelled."""
        try:
            async for entry in watcher:
                self.offer(entry)
        finally:
            await watcher.close()

    async def send(self) -> None:
        """PUT the whole set to nginx.

        Raises:
            NginxFailed: nginx is not there, or refused it.
        """
        ctx = self._ctx
        try:
            body = challenging.body(self.tokens)
        except UnsafeValue as error:  # `offer` validated them: not expected
            raise NginxFailed(str(error)) from error
        await agentsocket.request(
            ctx.layout.socket,
            method="PUT",
            target=challenging.SOCKET_LOCATION,
            body=body,
            seconds=ctx.settings.reload_timeout,
            what="set ACME challenges",
        )
        self.sends += 1

    async def run(self) -> None:
        """Send the set whenever it changed or nginx started; runs until cancelled."""
        failing = False
        self.changed.set()  # nginx serves by now: it may hold an older set, or none
        while True:
            await self.changed.wait()
            self.changed.clear()
            try:
                await self.send()
            except NginxFailed as error:
                if not failing:
                    logger.warning("cannot send ACME challenges yet (retrying): %s", error)
                failing = True
                await asyncio.sleep(RETRY_DELAY)
                self.changed.set()
                continue
            if failing:
                logger.info("ACME challenges sent to nginx again")
            failing = False
