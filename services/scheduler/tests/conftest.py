"""Fixtures: a private nats-server, a filesystem object store, slugs made here, and a scheduler
running in this event loop; desired states are written to KV as the controller writes them.

The controller is not part of these tests: `platform.desire(...)` writes the `DesiredState`
value the controller would write for a release, and tests read what the scheduler publishes
(KV `endpoints` and `procs`, deploy events) as the router and the controller would.
"""

import asyncio
import contextlib
import itertools
import json
import os
import signal
import subprocess
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import nats
import nats.aio.client
import nats.js
import pytest

from deis_scheduler import service
from deis_scheduler.service import Scheduler
from deis_scheduler.settings import SchedulerSettings
from deis_shared import wire
from deis_shared.bus import requesting
from deis_shared.events import deploy as deploy_events
from deis_shared.kv import desired as desired_kv, endpoints as endpoints_kv, procs as procs_kv
from deis_shared.objectstore import keys
from deis_shared.objectstore.filesystem import FilesystemStore
from deis_shared.rpc import scheduler as scheduler_rpc
from deis_testing import (
    NatsServer,
    ServiceProcess,
    app_pids as testing_app_pids,
    free_port,
    traversable,
    unique_name,
)

M = TypeVar("M", bound=wire.Message)

WEB_APP = """\
import http.server, os, sys

VERSION = os.environ["WORKFLOW_RELEASE"]
GREETING = os.environ.get("GREETING", "hello")


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = f"{GREETING} from {VERSION}\\n".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


print(f"listening on {os.environ['PORT']}", flush=True)
http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
"""

WORKER = """\
import os, time
print(f"worker {os.environ['WORKFLOW_RELEASE']} up", flush=True)
while True:
    time.sleep(1)
"""


@dataclass
class Platform:
    """The KV and events around a running scheduler."""

    scheduler: Scheduler | None
    nc: nats.aio.client.Client
    js: nats.js.JetStreamContext
    store: FilesystemStore
    tmp: Path
    outcomes: dict[tuple[str, int], Any] = field(default_factory=dict)
    _arrived: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def slug(self, app: str, sha: str, files: dict[str, str]) -> str:
        """Make a slug of `files` and store it; its key."""
        source = self.tmp / f"slug-{app}-{sha}"
        source.mkdir(parents=True)
        for name, text in files.items():
            (source / name).write_text(text)
        tarball = self.tmp / f"{app}-{sha}.tar.gz"
        tar = ["tar", "-czf", str(tarball), "-C", str(source), "."]
        await asyncio.to_thread(subprocess.run, tar, check=True)
        key = keys.slug_key(app, sha)
        await self.store.put_file(key=key, path=tarball)
        return key

    async def desire(
        self,
        app: str,
        *,
        version: int,
        sha: str | None,
        procfile: dict[str, str],
        formation: dict[str, int],
        config: dict[str, str] | None = None,
        routable: bool = True,
        restarts: dict[str, int] | None = None,
        memory: dict[str, str] | None = None,
        cpu: dict[str, str] | None = None,
        tamper: Callable[[dict[str, Any]], None] | None = None,
    ) -> desired_kv.DesiredState:
        """Write the app's desired state as the controller would; the value written.

        `tamper` changes the JSON before it is written, as a writer around the controller
        could (the value returned is then the one before).
        """
        build = (
            None
            if sha is None
            else desired_kv.DesiredBuild(
                id=uuid.uuid4(), sha=sha, slug_key=keys.slug_key(app, sha), procfile=procfile
            )
        )
        value = desired_kv.DesiredState(
            app=app,
            release=desired_kv.DesiredRelease(
                id=uuid.uuid4(), version=version, summary=f"v{version}", created=wire.utc_now()
            ),
            build=build,
            formation=formation,
            config=config or {},
            port=5000,
            routable=routable,
            maintenance=False,
            restarts=restarts or {},
            limits=desired_kv.Limits(memory=memory or {}, cpu=cpu or {}),
        )
        data = wire.encode(value)
        if tamper is not None:
            document = json.loads(data)
            tamper(document)
            data = json.dumps(document).encode()
        await self.js.publish(f"$KV.{desired_kv.BUCKET}.{app}", data)
        return value

    async def forget(self, app: str) -> None:
        """Delete the app's desired state, as the controller does when it is destroyed."""
        await self.js.publish(
            f"$KV.{desired_kv.BUCKET}.{app}", b"", headers={"KV-Operation": "DEL"}
        )

    async def on_deploy(self, msg: Any) -> None:
        outcome = json.loads(msg.data)
        if msg.subject.endswith(".started"):
            return
        async with self._arrived:
            self.outcomes[(outcome["app"], outcome["version"])] = (msg.subject, outcome)
            self._arrived.notify_all()

    async def outcome(self, app: str, version: int, seconds: float = 30) -> tuple[str, Any]:
        """The deploy result of `app` v`version`: (`succeeded` or `failed`, the event)."""
        async with asyncio.timeout(seconds), self._arrived:
            await self._arrived.wait_for(lambda: (app, version) in self.outcomes)
        subject, event = self.outcomes[(app, version)]
        return subject.rsplit(".", 1)[1], event

    async def _value(self, bucket: str, app: str, model: type[M]) -> M | None:
        kv = await self.js.key_value(bucket)
        try:
            entry = await kv.get(app)
        except nats.js.errors.KeyNotFoundError:
            return None
        return wire.decode(entry.value, model) if entry.value else None

    async def endpoints(self, app: str) -> endpoints_kv.Endpoints | None:
        """The app's latest KV `endpoints` value, as the router reads it."""
        return await self._value(endpoints_kv.BUCKET, app, endpoints_kv.Endpoints)

    async def run(self, app: str, command: str, seconds: float = 10.0) -> scheduler_rpc.RunReply:
        """`deis run <command>` as the controller asks it of the scheduler."""
        return await requesting.request(
            self.nc,
            subject=scheduler_rpc.RUN_SUBJECT,
            payload=scheduler_rpc.RunRequest(
                app=app, command=command, user="alice", timeout_seconds=seconds
            ),
            reply_type=scheduler_rpc.RunReply,
            timeout=seconds + 10,
        )

    async def procs(self, app: str) -> procs_kv.Procs | None:
        """The app's latest KV `procs` value, as the controller reads it."""
        return await self._value(procs_kv.BUCKET, app, procs_kv.Procs)


@pytest.fixture
def scheduler_overrides() -> dict[str, Any]:
    """Settings a test overrides."""
    return {}


@pytest.fixture
def nats_server(nats_server_factory: Callable[[], NatsServer]) -> NatsServer:
    """The test's private nats-server (tests may stop and start it again)."""
    return nats_server_factory()


@pytest.fixture
def scheduler_settings(
    nats_server: NatsServer,
    tmp_path: Path,
    scheduler_overrides: dict[str, Any],
) -> SchedulerSettings:
    """Settings of a scheduler on a private nats-server, with a filesystem object store."""
    values: dict[str, Any] = {
        "nats_url": nats_server.url,
        # The apps' sandboxes, started as their own user ids, mount releases from here.
        "data_dir": traversable(tmp_path / "scheduler"),
        "object_store": "filesystem",
        "object_store_root": tmp_path / "objects",
        "drain_seconds": 0.3,
        "stop_grace": 2.0,
        "stop_processes_on_exit": True,
        "deploy_timeout": 15.0,
        "shutdown_timeout": 10.0,
        "settle_seconds": 0.2,
    }
    values.update(scheduler_overrides)
    return SchedulerSettings(**values)


@pytest.fixture
async def bus(scheduler_settings: SchedulerSettings, tmp_path: Path) -> AsyncIterator[Platform]:
    """The KV, events and object store around schedulers the test starts itself."""
    nc = await nats.connect(scheduler_settings.nats_url)
    js = nc.jetstream()
    store = FilesystemStore(tmp_path / "objects")
    await store.prepare()
    around = Platform(scheduler=None, nc=nc, js=js, store=store, tmp=tmp_path)
    sub = await nc.subscribe(deploy_events.ALL_SUBJECTS, cb=around.on_deploy)
    try:
        yield around
    finally:
        await sub.unsubscribe()
        await nc.close()


@pytest.fixture
async def platform(scheduler_settings: SchedulerSettings, bus: Platform) -> AsyncIterator[Platform]:
    """A scheduler running in this event loop, and the KV and events around it."""
    async with service.running(scheduler_settings) as scheduler:
        bus.scheduler = scheduler
        yield bus


@pytest.fixture
def app_name() -> str:
    """An app name of this test's own."""
    return unique_name("app-")


async def get(port: int) -> httpx.Response:
    """GET / from a process on this host."""
    async with httpx.AsyncClient(timeout=5) as http:
        return await http.get(f"http://127.0.0.1:{port}/")


@pytest.fixture
def fetch() -> Callable[[int], Any]:
    """`await fetch(port)`: GET / of a process on this host."""
    return get


@pytest.fixture
def app_files() -> dict[str, str]:
    """A slug's files: `app.py` (web: answers `<GREETING> from <release>`), `worker.py`."""
    return {"app.py": WEB_APP, "worker.py": WORKER}


async def _until(check: Callable[[], Awaitable[Any]], seconds: float = 30.0) -> Any:
    async with asyncio.timeout(seconds):
        for _ in itertools.count():
            result = await check()
            if result:
                return result
            await asyncio.sleep(0.05)
    raise AssertionError("unreachable")


@pytest.fixture
def app_pids() -> Callable[[str], set[int]]:
    """`app_pids(app)`: the app's processes as /proc shows them (group leaders, by `DEIS_APP`)."""
    return testing_app_pids


@pytest.fixture
def until() -> Callable[..., Any]:
    """`await until(check)`: poll the coroutine function `check` until it returns a truthy value."""
    return _until


@pytest.fixture
def scheduler_process(
    scheduler_settings: SchedulerSettings, tmp_path: Path
) -> Callable[..., ServiceProcess]:
    """`scheduler_process(name, **env)`: a scheduler as a real process (`deis_scheduler.main`,
    not started yet) on this test's nats-server, data dir and object store, logging to
    `<name>.log`; `env` adds `DEIS_*` variables or overrides these."""

    def make(name: str, **env: str) -> ServiceProcess:
        port = free_port()
        environment = {
            **os.environ,
            "DEIS_NATS_URL": scheduler_settings.nats_url,
            "DEIS_DATA_DIR": str(scheduler_settings.data_dir),
            "DEIS_OBJECT_STORE_ROOT": str(tmp_path / "objects"),
            "DEIS_HEALTH_PORT": str(port),
            "DEIS_SHUTDOWN_TIMEOUT": "10",
            "DEIS_STOP_GRACE": "2",
            **env,
        }
        return ServiceProcess(
            "deis_scheduler.main", env=environment, port=port, log=tmp_path / f"{name}.log"
        )

    return make


@pytest.fixture(autouse=True)
def no_leftovers(app_name: str, app_pids: Callable[[str], set[int]]) -> Iterator[None]:
    """Whatever a failing test left running of its app is killed."""
    yield
    for pid in app_pids(app_name):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
