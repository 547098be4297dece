"""A scheduler restart, graceful or kill -9, neither stops nor duplicates the app's processes.

Each test runs two schedulers one after the other on the same data dir and nats-server: the
first leaves the processes running (`stop_processes_on_exit` off, or killed), the second
adopts them. Processes are counted in /proc by their `DEIS_APP`, so a duplicate cannot hide.
"""

import asyncio
import os
import signal

import httpx

from deis_scheduler import service
from deis_scheduler.local import records
from deis_scheduler.local.processes import Identity, LocalProcess
from deis_scheduler.local.runtime import AppRuntime
from deis_shared import wire
from deis_shared.bus import topology
from deis_shared.events import logs as log_events
from deis_shared.kv import procs as procs_kv
from deis_testing import free_port

PROCFILE = {"web": "python3 app.py", "worker": "python3 worker.py"}

TICKING_WORKER = """\
import itertools, os, time
for n in itertools.count():
    print(f"tick {n}", flush=True)
    time.sleep(0.1)
"""


async def release(bus, app, app_files, *, version=2, sha="aaaaaaa"):
    await bus.slug(app, sha, {**app_files, "worker.py": TICKING_WORKER})
    await bus.desire(
        app, version=version, sha=sha, procfile=PROCFILE, formation={"web": 2, "worker": 1}
    )
    result, event = await bus.outcome(app, version)
    assert result == "succeeded", event


async def procs_revision(bus, app):
    kv = await bus.js.key_value(procs_kv.BUCKET)
    return (await kv.get(app)).revision


async def running_pids(bus, app):
    procs = await bus.procs(app)
    return {p.name: p.pid for p in procs.processes} if procs else {}


async def test_a_restarted_scheduler_adopts_the_running_processes(
    app_pids, bus, scheduler_settings, app_name, app_files, fetch, until
):
    leaving = scheduler_settings.model_copy(update={"stop_processes_on_exit": False})
    async with service.running(leaving):
        await release(bus, app_name, app_files)
        before = await running_pids(bus, app_name)
    assert len(before) == 3
    assert app_pids(app_name) == set(before.values())  # nothing was stopped
    endpoints = await bus.endpoints(app_name)
    assert endpoints is not None
    for upstream in endpoints.upstreams:
        assert (await fetch(upstream.port)).text == "hello from v2\n"

    ticks: list[str] = []

    async def collect(msg):
        ticks.append(wire.decode(msg.data, log_events.LogLine).message)

    sub = await bus.nc.subscribe(log_events.subject(app_name), cb=collect)
    async with service.running(scheduler_settings) as second:
        worker = second.reconciler.workers[app_name]
        await until(worker.converged.wait)
        assert await running_pids(bus, app_name) == before
        assert app_pids(app_name) == set(before.values())  # adopted, not duplicated
        assert isinstance(worker.runtime, AppRuntime)
        assert set(worker.runtime.procs) == {("web", 1), ("web", 2), ("worker", 1)}
        # The worker's output flows again, and what it wrote meanwhile was kept.
        await until(lambda: asyncio.sleep(0, len(ticks) >= 5))
        numbers = [int(tick.split()[1]) for tick in ticks]
        assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))

        # An adopted process that dies is restarted like any other.
        os.kill(before[f"{app_name}-web-v2-1"], signal.SIGKILL)

        async def restarted():
            procs = await bus.procs(app_name)
            web = next(p for p in procs.processes if p.name == f"{app_name}-web-v2-1")
            return web.state == "up" and web.restarts == 1 and web.pid != before[web.name]

        await until(restarted)
        assert len(app_pids(app_name)) == 3
    await sub.unsubscribe()
    assert app_pids(app_name) == set()  # this one stopped them on its way out


async def test_an_app_deleted_while_no_scheduler_ran_is_stopped_at_adoption(
    app_pids, bus, scheduler_settings, app_name, app_files, until
):
    leaving = scheduler_settings.model_copy(update={"stop_processes_on_exit": False})
    async with service.running(leaving):
        await release(bus, app_name, app_files)
    assert len(app_pids(app_name)) == 3
    await bus.forget(app_name)
    async with service.running(scheduler_settings):
        await until(lambda: asyncio.sleep(0, not app_pids(app_name)))
        records = scheduler_settings.data_dir / "records"
        await until(lambda: asyncio.sleep(0, not (records / f"{app_name}.json").exists()))


async def test_kill_9_of_the_scheduler_costs_the_apps_nothing(
    app_pids, bus, scheduler_process, app_name, app_files, until
):
    def process(name: str, *, stop_on_exit: bool):
        return scheduler_process(
            name,
            DEIS_DRAIN_SECONDS="0.3",
            DEIS_STOP_PROCESSES_ON_EXIT="true" if stop_on_exit else "false",
        )

    first = process("first", stop_on_exit=True)
    await asyncio.to_thread(first.start)
    try:
        await release(bus, app_name, app_files)
    except BaseException:
        await asyncio.to_thread(first.stop)
        raise
    before = await running_pids(bus, app_name)
    ports = [u.port for u in (await bus.endpoints(app_name)).upstreams]

    failures: list[str] = []
    served = 0
    stop = asyncio.Event()

    async def load():
        nonlocal served
        async with httpx.AsyncClient(timeout=5) as http:
            while not stop.is_set():
                for port in ports:
                    try:
                        answer = await http.get(f"http://127.0.0.1:{port}/")
                        served += answer.status_code == 200
                    except httpx.HTTPError as exc:
                        failures.append(repr(exc))

    loader = asyncio.create_task(load())
    second = process("second", stop_on_exit=True)
    try:
        await asyncio.to_thread(first.kill)
        await until(lambda: asyncio.sleep(0, served >= 20))
        assert app_pids(app_name) == set(before.values())  # orphaned, still serving
        published = await procs_revision(bus, app_name)
        await asyncio.to_thread(second.start)
        marker = served

        async def adopted():  # the second scheduler published procs, and requests went on
            return served > marker + 20 and await procs_revision(bus, app_name) > published

        await until(adopted)
        assert await running_pids(bus, app_name) == before
        assert app_pids(app_name) == set(before.values())
    finally:
        stop.set()
        await loader
        assert await asyncio.to_thread(second.stop, grace=15) == 0
    assert failures == []
    assert app_pids(app_name) == set()


async def test_what_an_unfinished_rollout_started_does_not_survive_a_restart(
    app_pids, bus, scheduler_settings, app_name, app_files, until
):
    leaving = scheduler_settings.model_copy(
        update={"stop_processes_on_exit": False, "deploy_timeout": 60.0}
    )
    async with service.running(leaving):
        await release(bus, app_name, app_files)
        serving = app_pids(app_name)
        # v3's web never listens: its rollout is still waiting when the scheduler stops.
        await bus.slug(app_name, "bbbbbbb", app_files)
        await bus.desire(
            app_name,
            version=3,
            sha="bbbbbbb",
            procfile={"web": "sleep 60", "worker": "python3 worker.py"},
            formation={"web": 1},
        )
        await until(lambda: asyncio.sleep(0, len(app_pids(app_name)) == 4))
    assert app_pids(app_name) == serving  # v2 runs on; v3's half-started web is gone


async def test_a_recorded_leftover_is_stopped_and_a_live_one_adopted(
    app_pids, bus, scheduler_settings, app_name, tmp_path, until
):
    env = {"PATH": os.defpath, "DEIS_APP": app_name}
    started: dict[str, Identity] = {}
    for name in ("live", "pending"):
        proc = LocalProcess(name=name, label="web.1", output_dir=tmp_path / "out", run_as=None)
        await proc.start(command="sleep 60", cwd=tmp_path, env=env, on_line=lambda _: None)
        proc.detach()
        assert proc.identity is not None
        started[name] = proc.identity

    def entry(role, index):
        return records.ProcessRecord(
            type="web",
            index=index,
            release=4,
            port=free_port(),
            role=role,
            pid=started[role].pid,
            start_ticks=started[role].start_ticks,
            command="sleep 60",
            cwd=tmp_path,
            env=env,
            run_as=None,
            memory=None,
            started=None,
            restarts=0,
            exit_code=None,
        )

    records.Records(scheduler_settings.data_dir / "records").save(
        records.AppRecord(
            app=app_name,
            version=4,
            failed=[],
            restarts_seen={},
            processes=[entry("live", 1), entry("pending", 2)],
        )
    )
    await topology.ensure_topology(bus.js)
    await bus.desire(
        app_name, version=4, sha="ccccccc", procfile={"web": "sleep 60"}, formation={"web": 1}
    )
    async with service.running(scheduler_settings) as scheduler:
        await until(lambda: asyncio.sleep(0, app_pids(app_name) == {started["live"].pid}))
        await until(scheduler.reconciler.workers[app_name].converged.wait)
        runtime = scheduler.reconciler.workers[app_name].runtime
        assert isinstance(runtime, AppRuntime)
        assert list(runtime.procs) == [("web", 1)]
        assert runtime.version == 4
    assert app_pids(app_name) == set()
