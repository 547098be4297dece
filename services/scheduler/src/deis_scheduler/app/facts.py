"""What the scheduler tells the rest of the platform: KV `endpoints` and `procs`, deploy events.

KV values are written with a JetStream publish to `$KV.<bucket>.<key>` (what nats-py's KV put
does), each with its own de-duplication id; a delete is the same publish with the
`KV-Operation: DEL` header. The values are whole states, so a lost write is healed by the next.
"""

import uuid

import nats.js

from deis_shared import wire
from deis_shared.bus import publishing
from deis_shared.kv import endpoints as endpoints_kv, procs as procs_kv


async def put(js: nats.js.JetStreamContext, *, bucket: str, key: str, value: wire.Message) -> int:
    """Write `value` as the latest value of `key` in `bucket`; its stream sequence."""
    ack = await publishing.publish(
        js, subject=f"$KV.{bucket}.{key}", data=value, msg_id=str(value.id)
    )
    return ack.seq


async def delete(js: nats.js.JetStreamContext, *, bucket: str, key: str) -> None:
    """Delete `key` from `bucket` (watchers see a DEL)."""
    await publishing.publish(
        js,
        subject=f"$KV.{bucket}.{key}",
        data=b"",
        msg_id=str(uuid.uuid4()),
        headers={"KV-Operation": "DEL"},
    )


async def endpoints(js: nats.js.JetStreamContext, *, value: endpoints_kv.Endpoints) -> int:
    """Publish where the app's live web processes listen.

    Returns:
        The put's stream sequence (routers report how far they serve in it:
        `deis_shared.kv.routers`).
    """
    return await put(js, bucket=endpoints_kv.BUCKET, key=endpoints_kv.key(value.app), value=value)


async def procs(js: nats.js.JetStreamContext, *, value: procs_kv.Procs) -> None:
    """Publish every process of the app and its state."""
    await put(js, bucket=procs_kv.BUCKET, key=procs_kv.key(value.app), value=value)


async def forget(js: nats.js.JetStreamContext, *, app: str) -> None:
    """Remove a deleted app's endpoints and processes."""
    await delete(js, bucket=endpoints_kv.BUCKET, key=endpoints_kv.key(app))
    await delete(js, bucket=procs_kv.BUCKET, key=procs_kv.key(app))


async def event(js: nats.js.JetStreamContext, *, subject: str, value: wire.Message) -> None:
    """Publish a deploy event (de-duplicated by its id)."""
    await publishing.publish(js, subject=subject, data=value, msg_id=str(value.id))
