"""Kubernetes backend benchmark: what converging many apps costs the API server.

Run: `uv run python bench/kube.py`. Starts a nats-server, moto's S3 and the Kubernetes API
emulator (`deis_testing.kube`, the tests' double: no real API server runs here), then a
scheduler on the `kubernetes` backend in this process, and writes desired states to KV as the
controller would. For a cluster of 10 apps (the baseline) and of 100 apps, each with a `web`
and a `worker` process type, it prints:

- requests per app converge: the API requests (reads, writes and watches) from writing every
  app's first release until each is rolled out, divided by the apps;
- requests per resync: one full resync of every app, nothing having changed (the backend reads
  its watch cache, so it should send none);
- requests per config change: one app's new release (a new config Secret, two Deployments
  replaced, old Secrets kept), which must not grow with the number of apps;
- seconds for each of these.

Target: a config change of one app costs the same number of requests with 100 apps as with 10.
"""

import asyncio
import json
import statistics
import time
import uuid
from pathlib import Path
from tempfile import TemporaryDirectory

import nats

from deis_scheduler import service
from deis_scheduler.settings import SchedulerSettings
from deis_shared import wire
from deis_shared.events import deploy as deploy_events
from deis_shared.kv import desired as desired_kv
from deis_testing import NatsServer, S3Server
from deis_testing.kube import KubeEmulator, Timings

SIZES = (10, 100)
CHANGES = 5
"""Config changes measured per size (the median is printed)."""


def desired(app: str, *, version: int, greeting: str) -> desired_kv.DesiredState:
    return desired_kv.DesiredState(
        app=app,
        release=desired_kv.DesiredRelease(
            id=uuid.uuid4(), version=version, summary=f"v{version}", created=wire.utc_now()
        ),
        build=desired_kv.DesiredBuild(
            id=uuid.uuid4(),
            sha="abcdef1",
            slug_key=f"slugs/{app}/abcdef1.tar.gz",
            procfile={"web": "python app.py", "worker": "python worker.py"},
        ),
        formation={"web": 2, "worker": 1},
        config={"GREETING": greeting},
        port=5000,
        routable=True,
        maintenance=False,
    )


async def measure(size: int, *, s3: S3Server, root: Path) -> dict[str, float]:
    nats_server = NatsServer()
    nats_server.start()
    # Progress deadlines as a cluster has them (the tests' emulator shortens them).
    emulator = KubeEmulator(timings=Timings(start=0.0, backoff=0.05, deadline_scale=1.0))
    await emulator.start()
    try:
        settings = SchedulerSettings(
            nats_url=nats_server.url,
            data_dir=root / f"scheduler-{size}",
            backend="kubernetes",
            kube_config=emulator.write_kubeconfig(root / f"kubeconfig-{size}"),
            object_store="s3",
            s3_endpoint_url=s3.endpoint_url,
            s3_region=s3.region,
            s3_access_key_id=s3.access_key,
            s3_secret_access_key=s3.secret_key,
            s3_bucket=f"bench-kube-{size}",
            resync_interval=3600,
            log_level="WARNING",
        )
        async with service.running(settings) as scheduler:
            kube = scheduler.ctx.kube  # type: ignore[attr-defined]
            nc = await nats.connect(nats_server.url)
            js = nc.jetstream()
            outcomes: dict[tuple[str, int], str] = {}
            arrived = asyncio.Event()

            async def on_deploy(msg: object) -> None:
                subject = msg.subject  # type: ignore[attr-defined]
                if not subject.endswith(".started"):
                    event = json.loads(msg.data)  # type: ignore[attr-defined]
                    outcomes[(event["app"], event["version"])] = subject.rsplit(".", 1)[1]
                    if event.get("reason"):
                        print("failed:", event["app"], event["reason"])
                    arrived.set()

            await nc.subscribe(deploy_events.ALL_SUBJECTS, cb=on_deploy)

            async def wait_for(wanted: set[tuple[str, int]]) -> None:
                async with asyncio.timeout(300):
                    while not wanted <= outcomes.keys():
                        arrived.clear()
                        await arrived.wait()
                failed = [key for key in wanted if outcomes[key] != "succeeded"]
                assert not failed, failed

            apps = [f"bench-{size}-{i}" for i in range(size)]
            before, started = kube.requests, time.perf_counter()
            for app in apps:
                value = desired(app, version=2, greeting="hello")
                await js.publish(f"$KV.{desired_kv.BUCKET}.{app}", wire.encode(value))
            await wait_for({(app, 2) for app in apps})
            converge = (kube.requests - before) / size, time.perf_counter() - started

            before, started = kube.requests, time.perf_counter()
            for worker in scheduler.reconciler.workers.values():
                worker.converged.clear()
                worker.poke()
            async with asyncio.timeout(120):
                for worker in scheduler.reconciler.workers.values():
                    await worker.converged.wait()
            resync = kube.requests - before, time.perf_counter() - started

            costs, seconds = [], []
            for change in range(CHANGES):
                app, version = apps[change % size], 3 + change
                value = desired(app, version=version, greeting=f"hi {change}")
                before, started = kube.requests, time.perf_counter()
                await js.publish(f"$KV.{desired_kv.BUCKET}.{app}", wire.encode(value))
                await wait_for({(app, version)})
                costs.append(kube.requests - before)
                seconds.append(time.perf_counter() - started)
            await nc.close()
        return {
            "converge_requests": converge[0],
            "converge_seconds": converge[1],
            "resync_requests": resync[0],
            "resync_seconds": resync[1],
            "change_requests": statistics.median(costs),
            "change_seconds": statistics.median(seconds),
            "emulator_requests": len(emulator.requests),
        }
    finally:
        await emulator.stop()
        nats_server.stop()


async def main() -> None:
    s3 = S3Server()
    s3.start()
    try:
        with TemporaryDirectory(prefix="deis-bench-kube-") as root:
            figures = {size: await measure(size, s3=s3, root=Path(root)) for size in SIZES}
    finally:
        s3.stop()
    base, big = figures[SIZES[0]], figures[SIZES[1]]
    print(f"kubernetes backend, {SIZES[0]} apps (baseline) vs {SIZES[1]} apps, 2 types each")
    rows = [
        ("requests per app converge", "converge_requests", "{:.1f}"),
        ("seconds to converge all apps", "converge_seconds", "{:.2f}"),
        ("requests per resync of all apps", "resync_requests", "{:.0f}"),
        ("seconds per resync of all apps", "resync_seconds", "{:.2f}"),
        ("requests per config change (median)", "change_requests", "{:.0f}"),
        ("seconds per config change (median)", "change_seconds", "{:.2f}"),
    ]
    for label, key, form in rows:
        print(f"  {label:<38} {form.format(base[key]):>10} {form.format(big[key]):>10}")
    verdict = "O(1)" if big["change_requests"] <= base["change_requests"] else "grows with apps"
    print(f"  a config change costs {verdict} requests")


if __name__ == "__main__":
    asyncio.run(main())
