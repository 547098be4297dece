"""What the scheduler tells the rest of the platform: KV `endpoints` and `procs`, deploy events.

KV values are written through `deis_shared.bus.kv`, each with its own de-duplication id (the
value's id; a new one for a delete). The values are whole states, so a lost write is healed by
the next.
"""

from deis_shared import wire
from deis_shared.bus import connection, kv, publishing
from deis_shared.kv import endpoints as endpoints_kv, procs as procs_kv


async def endpoints(js: connection.JetStream, *, value: endpoints_kv.Endpoints) -> int:
    """Publish where the app's live web processes listen.

    Returns:
        The put's stream sequence (routers report how far they serve in it:
        `deis_shared.kv.routers`).
    """
    return await kv.put(js, endpoints_kv.SPEC, value.app, value)


async def procs(js: connection.JetStream, *, value: procs_kv.Procs) -> None:
    """Publish every process of the app and its state."""
    await kv.put(js, procs_kv.SPEC, value.app, value)


async def forget(js: connection.JetStream, *, app: str) -> None:
    """Remove a deleted app's endpoints and processes."""
    await kv.delete(js, endpoints_kv.SPEC, app)
    await kv.delete(js, procs_kv.SPEC, app)


async def event(js: connection.JetStream, *, subject: str, value: wire.Message) -> None:
    """Publish a deploy event (de-duplicated by its id)."""
    await publishing.publish(js, subject=subject, data=value, msg_id=str(value.id))
