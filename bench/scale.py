"""Scale benchmark: the local backend starting, health-checking and rolling out real processes.

Run: `uv run python bench/scale.py`. Starts its own nats-server and a scheduler in this process
(filesystem object store), stores a slug of a small Python web app (stdlib `http.server`), and
writes desired states to KV as the controller would. Prints, median of 3 runs each:

- web 1 -> 20: from writing `web=20` until KV `endpoints` lists 20 processes that each accept
  connections (the scheduler checks every one before listing it);
- rollout of a 5-process release: from writing v(N+1) with `web=5` until `deploy.succeeded`,
  which includes starting the 5 new processes, their health checks and the switch of
  `endpoints` (the old ones then drain for `DEIS_DRAIN_SECONDS`, 0.5 s here, and stop).

Target: web 1 -> 20 in at most 10 s.
"""

import asyncio
import itertools
import json
import statistics
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import nats

from deis_scheduler import service
from deis_scheduler.settings import SchedulerSettings
from deis_shared import wire
from deis_shared.events import deploy as deploy_events
from deis_shared.kv import desired as desired_kv, endpoints as endpoints_kv
from deis_shared.objectstore import keys
from deis_shared.objectstore.filesystem import FilesystemStore
from deis_testing import NatsServer, traversable

APP = """\
import http.server, os
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.send_header("Content-Length", "3"); self.end_headers()
        self.wfile.write(b"ok\\n")
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
"""
RUNS = 3
DRAIN = 0.5


def desired(app: str, *, version: int, web: int) -> bytes:
    value = desired_kv.DesiredState(
        app=app,
        release=desired_kv.DesiredRelease(
            id=uuid.uuid4(), version=version, summary=f"v{version}", created=wire.utc_now()
        ),
        build=desired_kv.DesiredBuild(
            id=uuid.uuid4(),
            sha="abcdef1",
            slug_key=keys.slug_key(app, "abcdef1"),
            procfile={"web": "python3 app.py"},
        ),
        formation={"web": web},
        config={},
        port=5000,
        routable=True,
        maintenance=False,
    )
    return wire.encode(value)


async def main() -> None:
    root = traversable(Path(tempfile.mkdtemp(prefix="deis-bench-scale-")))
    server = NatsServer()
    server.start()
    try:
        settings = SchedulerSettings(
            nats_url=server.url,
            data_dir=root / "scheduler",
            object_store="filesystem",
            object_store_root=root / "objects",
            drain_seconds=DRAIN,
            stop_grace=2.0,
            stop_processes_on_exit=True,  # the bench's apps go with it
            log_level="WARNING",
        )
        async with service.running(settings):
            store = FilesystemStore(root / "objects")
            await store.prepare()
            slug_dir = root / "slug"
            slug_dir.mkdir()
            (slug_dir / "app.py").write_text(APP)
            tarball = root / "slug.tar.gz"
            tar = ["tar", "-czf", str(tarball), "-C", str(slug_dir), "."]
            await asyncio.to_thread(subprocess.run, tar, check=True)
            nc = await nats.connect(server.url)
            js = nc.jetstream()
            endpoints = await js.key_value(endpoints_kv.BUCKET)
            outcomes: dict[tuple[str, int], float] = {}

            async def on_deploy(msg: object) -> None:
                event = json.loads(msg.data)  # type: ignore[attr-defined]
                if not msg.subject.endswith(".started"):  # type: ignore[attr-defined]
                    outcomes[(event["app"], event["version"])] = time.perf_counter()

            await nc.subscribe(deploy_events.ALL_SUBJECTS, cb=on_deploy)

            async def until(check: object, seconds: float = 60) -> None:
                async with asyncio.timeout(seconds):
                    for _ in itertools.count():
                        if await check():  # type: ignore[operator]
                            return
                        await asyncio.sleep(0.01)

            scale_up, rollout = [], []
            for run in range(RUNS):
                app = f"bench{run}"
                await store.put_file(key=keys.slug_key(app, "abcdef1"), path=tarball)
                subject = f"$KV.{desired_kv.BUCKET}.{app}"
                await js.publish(subject, desired(app, version=2, web=1))

                async def released(app: str = app, version: int = 2) -> bool:
                    return (app, version) in outcomes

                await until(released)

                async def twenty(app: str = app) -> bool:
                    entry = await endpoints.get(app)
                    value = wire.decode(entry.value or b"", endpoints_kv.Endpoints)
                    return len(value.upstreams) == 20

                started = time.perf_counter()
                await js.publish(subject, desired(app, version=2, web=20))
                await until(twenty)
                scale_up.append(time.perf_counter() - started)

                await js.publish(subject, desired(app, version=2, web=5))

                async def five(app: str = app) -> bool:
                    entry = await endpoints.get(app)
                    value = wire.decode(entry.value or b"", endpoints_kv.Endpoints)
                    return len(value.upstreams) == 5

                await until(five)
                started = time.perf_counter()
                await js.publish(subject, desired(app, version=3, web=5))

                async def rolled(app: str = app) -> bool:
                    return (app, 3) in outcomes

                await until(rolled)
                rollout.append(outcomes[(app, 3)] - started)
                await js.publish(subject, b"", headers={"KV-Operation": "DEL"})
            await nc.close()
        print(f"local backend, median of {RUNS} runs")
        print(
            f"web 1 -> 20 healthy             {statistics.median(scale_up):6.2f} s"
            f"   (target <= 10 s; runs: {', '.join(f'{s:.2f}' for s in scale_up)})"
        )
        print(
            f"rollout of a 5-process release  {statistics.median(rollout):6.2f} s"
            f"   (until live; runs: {', '.join(f'{s:.2f}' for s in rollout)})"
        )
    finally:
        server.close()


if __name__ == "__main__":
    asyncio.run(main())
