"""Redelivery benchmark: how soon a message whose consumer died is handled again.

Run: `uv run python bench/redelivery.py`. Starts a nats-server with JetStream and a stream;
a consumer (`deis_shared.bus.consuming.Consumer`, as the controller's build and deploy
consumers are) takes a message and dies mid-handler (its task cancelled: no answer, no more
"in progress"); a new consumer on the same durable starts at once. Prints the seconds from the
death to the message being handled again:

- baseline: `ack_wait` 30 s, as every consumer had before (a controller killed while it held a
  completed build made the push wait about 35 s);
- now: the default `ack_wait` (3 s), the handler saying "in progress" every third of it.

Target: at most 5 s.
"""

import asyncio

import nats

from deis_shared.bus import consuming
from deis_testing import NatsServer


async def redelivered_after(js: nats.js.JetStreamContext, stream: str, *, ack_wait: float) -> float:
    durable = f"bench{int(ack_wait)}"
    picked = asyncio.Event()

    async def dies(_msg: object) -> None:
        picked.set()
        await asyncio.Event().wait()

    def consumer(handler: consuming.Handler) -> consuming.Consumer:
        return consuming.Consumer(
            js=js,
            stream=stream,
            durable=durable,
            filter_subject=f"{stream}.{durable}",
            handler=handler,
            ack_wait=ack_wait,
            handler_timeout=120,
            poll=0.1,
        )

    first = asyncio.create_task(consumer(dies).run())
    await js.publish(f"{stream}.{durable}", b"build completed")
    await asyncio.wait_for(picked.wait(), 10)
    first.cancel()
    await asyncio.gather(first, return_exceptions=True)
    loop = asyncio.get_running_loop()
    died, back = loop.time(), asyncio.Event()

    async def handles(_msg: object) -> None:
        back.set()

    second = consumer(handles)
    task = asyncio.create_task(second.run())
    await asyncio.wait_for(back.wait(), ack_wait + 30)
    seconds = loop.time() - died
    await second.stop()
    await task
    return seconds


async def main() -> None:
    server = NatsServer()
    server.start()
    try:
        nc = await nats.connect(server.url)
        js = nc.jetstream()
        await js.add_stream(name="BENCH", subjects=["BENCH.>"])
        baseline = await redelivered_after(js, "BENCH", ack_wait=30.0)
        now = await redelivered_after(js, "BENCH", ack_wait=consuming.DEFAULT_ACK_WAIT)
        await nc.close()
    finally:
        server.stop()
    print("a message whose consumer died, from the death to its next handling:")
    print(f"  ack_wait 30 s (baseline)   {baseline:5.1f} s")
    print(f"  ack_wait {consuming.DEFAULT_ACK_WAIT:.0f} s (now)         {now:5.1f} s")


if __name__ == "__main__":
    asyncio.run(main())
