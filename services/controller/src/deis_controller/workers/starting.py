"""Start every background worker of the controller on an opened service.

The builder RPC responders answer from the moment `start` returns; the event consumers run as
eternal tasks of the service's supervisor. At shutdown they stop first (`Service.on_stop`),
while NATS and the pool are still open, so a message being handled is acked and a request
being answered gets its reply.
"""

import asyncio
from typing import Any

from deis_controller.usecases.context import Context
from deis_controller.workers import builds, issuing, rpcs
from deis_shared.bus import consuming, requesting
from deis_shared.runner import Service


async def start(service: Service, ctx: Context) -> None:
    """Start the builder RPC responders, the build and deploy consumers and the issuer."""
    if service.bus is None:
        return  # a controller without NATS serves the API only
    responders = rpcs.responders(nc=service.bus.nc, pool=ctx.pool)
    consumers = builds.consumers(js=service.bus.js, ctx=ctx)

    async def stop() -> None:
        # Stopping a consumer ends its eternal task; quiescing first tells the supervisor that
        # this is the shutdown, not a failure (the runner would only quiesce after this step).
        service.tasks.quiesce()
        await _stop(responders=responders, consumers=list(consumers.values()))

    service.on_stop(stop)
    for responder in responders:
        await responder.start()
    for durable, consumer in consumers.items():
        service.tasks.spawn(consumer.run(), name=f"consumer-{durable}")
    if ctx.settings.acme_issuer:
        service.tasks.spawn(issuing.run(ctx), name="certificate-issuer")


async def _stop(
    *,
    responders: list[requesting.Responder[Any, Any]],
    consumers: list[consuming.Consumer],
) -> None:
    await asyncio.gather(*(responder.close() for responder in responders))
    await asyncio.gather(*(consumer.stop() for consumer in consumers))
