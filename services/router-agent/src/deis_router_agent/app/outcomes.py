"""What the router tells the platform: `router.applied` and `router.rejected` events.

A publish that fails (NATS away) is logged and dropped: the events report, they do not drive
anything, and nginx must keep being configured while the bus is away.
"""

import logging

from deis_shared import errors, wire
from deis_shared.bus import connection, publishing
from deis_shared.events import router as router_events

logger = logging.getLogger(__name__)


async def _publish(js: connection.JetStream, *, subject: str, value: wire.Message) -> None:
    try:
        await publishing.publish(js, subject=subject, data=value, msg_id=str(value.id))
    except errors.DeisError as error:
        logger.warning("could not publish %s: %s", subject, error)


async def applied(js: connection.JetStream, *, value: router_events.RouterApplied) -> None:
    """Report a revision live in nginx."""
    await _publish(js, subject=router_events.APPLIED_SUBJECT, value=value)


async def rejected(js: connection.JetStream, *, value: router_events.RouterRejected) -> None:
    """Report a configuration nginx refused."""
    logger.error("nginx refused revision %d (app %s): %s", value.revision, value.app, value.message)
    await _publish(js, subject=router_events.REJECTED_SUBJECT, value=value)
