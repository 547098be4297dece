"""The certificate issuer's loop: a pass every `acme_interval` seconds, or sooner when woken.

Turning automatic TLS on or adding a domain sets the context's `issuer_wake` event, so the
user waits for the certificate, not for the interval. A pass that fails unexpectedly is
logged and retried at the next interval: one broken app or an ACME outage must not stop
the controller (the pass records failures per domain itself).
"""

import asyncio
import contextlib
import logging

from deis_controller.usecases import issuing
from deis_controller.usecases.context import Context

logger = logging.getLogger(__name__)


async def run(ctx: Context) -> None:
    """Run passes forever (cancelled at shutdown)."""
    issuer = issuing.Issuer(pool=ctx.pool, settings=ctx.settings)
    while True:
        ctx.issuer_wake.clear()
        try:
            await issuer.run_pass()
        except asyncio.CancelledError:
            raise
        except Exception:  # the loop outlives any one pass: see the docstring
            logger.exception("certificate issuer pass failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(ctx.issuer_wake.wait(), timeout=ctx.settings.acme_interval)
