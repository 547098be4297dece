"""A converge that fails leaves no process behind, and a release that cannot run fails once.

Real processes and a real nats-server. Processes are counted in /proc by their `DEIS_APP` and
compared with the app's process record; `deploy.failed` events are counted in the EVENTS stream,
after several more converges (a short resync), so a repeated report cannot hide.
"""

import asyncio
import logging
import uuid

import pytest

from deis_scheduler.app import reporting
from deis_scheduler.local import records as records_mod
from deis_scheduler.local.runtime import AppRuntime
from deis_shared import wire
from deis_shared.bus import errors as bus_errors, topology
from deis_shared.events import deploy as deploy_events, logs as log_events
from deis_shared.kv import desired as desired_kv, procs as procs_kv

PROCFILE = {"web": "python3 app.py", "worker": "python3 worker.py"}


@pytest.fixture
def scheduler_overrides():
    """A resync every 0.2 s: a failure that is reported again would show within a second."""
    return {"resync_interval": 0.2}


async def deploy(platform, app, app_files, *, version, sha, procfile=None, formation=None, **kw):
    await platform.slug(app, sha, app_files)
    await platform.desire(
        app,
        version=version,
        sha=sha,
        procfile=procfile or PROCFILE,
        formation=formation or {"web": 1, "worker": 1},
        **kw,
    )
    return await platform.outcome(app, version)


async def failed_events(platform, app):
    """How many `deploy.failed` of `app` the EVENTS stream holds."""
    subject = deploy_events.failed_subject(app)
    info = await platform.js.stream_info(topology.EVENTS_STREAM, subjects_filter=subject)
    return sum((info.state.subjects or {}).values())


async def more_converges(platform, app, until, count=3):
    """Wait until `app` converged `count` more times (each converge publishes its procs)."""
    kv = await platform.js.key_value(procs_kv.BUCKET)
    first = (await kv.get(app)).revision

    async def converged():
        return (await kv.get(app)).revision >= first + count

    await until(converged)


def recorded(settings, app):
    """The app's process record: (failed versions, recorded pids by process name)."""
    (record,) = [
        r for r in records_mod.Records(settings.data_dir / "records").load() if r.app == app
    ]
    pids = {f"{p.type}.{p.index}.v{p.release}": p.pid for p in record.processes}
    return record.failed, pids


async def live_pids(platform, app):
    procs = await platform.procs(app)
    return {p.pid for p in procs.processes} if procs else set()


async def test_a_desired_state_with_an_unparseable_cpu_limit_fails_its_release_once(
    platform, scheduler_settings, app_name, app_files, app_pids, until
):
    result, event = await deploy(platform, app_name, app_files, version=2, sha="aaaaaaa")
    assert result == "succeeded", event
    serving = app_pids(app_name)
    assert len(serving) == 2

    # Written around the controller, which refuses a sign: the desired state does not validate.
    await platform.slug(app_name, "ccccccc", app_files)
    await platform.desire(
        app_name,
        version=3,
        sha="ccccccc",
        procfile=PROCFILE,
        formation={"web": 1, "worker": 1},
        tamper=lambda value: value["limits"]["cpu"].update(web="-1"),
    )
    result, event = await platform.outcome(app_name, 3)

    assert result == "failed"
    assert "limits.cpu.web" in event["reason"]
    await more_converges(platform, app_name, until)
    assert await failed_events(platform, app_name) == 1
    assert app_pids(app_name) == serving  # v2 serves on; nothing of v3 ran
    failed, pids = recorded(scheduler_settings, app_name)
    assert failed == [3]
    assert set(pids) == {"web.1.v2", "worker.1.v2"}
    assert set(pids.values()) == serving

    result, event = await deploy(platform, app_name, app_files, version=4, sha="bbbbbbb")
    assert result == "succeeded", event
    v4 = await live_pids(platform, app_name)
    await until(lambda: asyncio.sleep(0, app_pids(app_name) == v4))  # v2 drained and stopped
    assert v4.isdisjoint(serving)


async def test_an_image_release_fails_once_here_and_the_slug_release_serves_on(
    platform, scheduler_settings, app_name, app_files, app_pids, until
):
    result, event = await deploy(platform, app_name, app_files, version=2, sha="aaaaaaa")
    assert result == "succeeded", event
    serving = app_pids(app_name)

    def pulled(value):
        value["build"] = None
        value["image"] = {"id": str(uuid.uuid4()), "image": "example/app:1", "procfile": {}}

    await platform.desire(
        app_name, version=3, sha=None, procfile={}, formation={"cmd": 1}, tamper=pulled
    )
    result, event = await platform.outcome(app_name, 3)

    assert result == "failed"
    assert "image releases (deis pull) run only on the Kubernetes backend" in event["reason"]
    await more_converges(platform, app_name, until)
    assert await failed_events(platform, app_name) == 1
    assert app_pids(app_name) == serving


def unapplicable(desired, **limits):
    """`desired` with limits no scheduler can apply, as no validating writer could make it."""
    return desired.model_copy(update={"limits": desired_kv.Limits.model_construct(**limits)})


def runtime_of(platform, app):
    runtime = platform.scheduler.reconciler.worker(app).runtime
    assert isinstance(runtime, AppRuntime)
    return runtime


async def test_a_limit_the_scheduler_cannot_apply_fails_the_rollout_before_anything_starts(
    platform, scheduler_settings, app_name, app_files, app_pids, until
):
    await platform.slug(app_name, "aaaaaaa", app_files)
    good = await platform.desire(
        app_name, version=2, sha="aaaaaaa", procfile=PROCFILE, formation={"web": 0}
    )
    assert (await platform.outcome(app_name, 2))[0] == "succeeded"
    bad = unapplicable(good, memory={}, cpu={"worker": "-1"}).model_copy(
        update={
            "release": good.release.model_copy(update={"version": 3}),
            "formation": {"web": 1, "worker": 1},
        }
    )

    await runtime_of(platform, app_name).converge(bad)  # web.1 would start before worker.1

    result, event = await platform.outcome(app_name, 3)
    assert result == "failed"
    assert event["reason"].startswith("worker cannot run with its limits: ")
    assert app_pids(app_name) == set()
    await more_converges(platform, app_name, until)
    assert await failed_events(platform, app_name) == 1
    assert recorded(scheduler_settings, app_name) == ([3], {})


@pytest.mark.parametrize(
    "worker",
    [
        pytest.param("echo " + "x" * 200_000, id="too-long"),  # E2BIG from execve
        pytest.param("python3 worker.py\x00", id="nul-byte"),  # ValueError from Popen
    ],
)
async def test_a_process_that_cannot_start_stops_those_started_before_it(
    platform, scheduler_settings, app_name, app_files, app_pids, until, worker
):
    # web.1 starts first; then worker.1 is refused.
    procfile = {"web": "python3 app.py", "worker": worker}
    result, event = await deploy(
        platform, app_name, app_files, version=2, sha="aaaaaaa", procfile=procfile
    )

    assert result == "failed"
    assert event["reason"].startswith("worker.1 could not start: ")
    await more_converges(platform, app_name, until)
    assert await failed_events(platform, app_name) == 1
    assert app_pids(app_name) == set()
    assert recorded(scheduler_settings, app_name) == ([2], {})

    result, event = await deploy(platform, app_name, app_files, version=3, sha="bbbbbbb")
    assert result == "succeeded", event
    assert app_pids(app_name) == await live_pids(platform, app_name)
    assert len(app_pids(app_name)) == 2


async def test_a_formation_that_cannot_run_on_the_live_release_starts_nothing_and_says_why(
    platform, app_name, app_files, app_pids, until
):
    lines = []

    async def collect(msg):
        line = wire.decode(msg.data, log_events.LogLine)
        if line.process == reporting.PLATFORM_PROCESS:
            lines.append(line.message)

    sub = await platform.nc.subscribe(log_events.subject(app_name), cb=collect)
    await platform.slug(app_name, "aaaaaaa", app_files)
    live = await platform.desire(
        app_name, version=2, sha="aaaaaaa", procfile=PROCFILE, formation={"web": 1}
    )
    assert (await platform.outcome(app_name, 2))[0] == "succeeded"
    serving = app_pids(app_name)

    # The live release, three web processes, and a memory limit written around the controller:
    # not a release of its own to fail; the app's log says why nothing changes.
    await platform.desire(
        app_name,
        version=2,
        sha="aaaaaaa",
        procfile=PROCFILE,
        formation={"web": 3},
        tamper=lambda value: value["limits"]["memory"].update(web="lots"),
    )
    await until(lambda: asyncio.sleep(0, lines))
    assert lines[0].startswith("v2 cannot be applied: ")
    assert "limits.memory.web" in lines[0]
    # The same, past validation: scaling up refuses it before anything starts.
    scaled = unapplicable(live, memory={"web": "lots"}, cpu={}).model_copy(
        update={"formation": {"web": 3}}
    )
    await runtime_of(platform, app_name).converge(scaled)
    await until(lambda: asyncio.sleep(0, len(lines) == 2))
    await more_converges(platform, app_name, until)

    assert len(lines) == 2, lines  # each once, however many converges tried again
    assert lines[1].startswith("cannot scale up v2: web cannot run with its limits: ")
    assert app_pids(app_name) == serving
    assert await failed_events(platform, app_name) == 0

    await platform.desire(
        app_name, version=2, sha="aaaaaaa", procfile=PROCFILE, formation={"web": 3}
    )

    async def three():
        return len(app_pids(app_name)) == 3 and app_pids(app_name) >= serving

    await until(three)
    await sub.unsubscribe()


async def test_a_transient_failure_of_a_rollout_stops_what_it_started_and_retries(
    platform, app_name, app_files, app_pids, until, monkeypatch
):
    first_try: list[int] = []
    healthy = AppRuntime._healthy

    async def unavailable_once(self, desired, procs, *, deadline):
        procs = list(procs)
        if first_try:
            return await healthy(self, desired, procs, deadline=deadline)
        first_try.extend(proc.process.pid for proc in procs)
        raise bus_errors.BusUnavailable("injected: NATS away")

    monkeypatch.setattr(AppRuntime, "_healthy", unavailable_once)

    result, event = await deploy(platform, app_name, app_files, version=2, sha="aaaaaaa")

    assert result == "succeeded", event
    assert len(first_try) == 2
    live = await live_pids(platform, app_name)
    assert app_pids(app_name) == live
    assert live.isdisjoint(first_try)  # the first attempt's processes were stopped
    assert await failed_events(platform, app_name) == 0


@pytest.mark.parametrize("scheduler_overrides", [{"resync_interval": 30.0}])
async def test_a_rollout_cut_off_from_nats_retires_the_old_release_once_it_is_back(
    platform, nats_server, app_name, app_files, app_pids, until, caplog
):
    result, _ = await deploy(
        platform, app_name, app_files, version=2, sha="aaaaaaa", formation={"web": 1}
    )
    assert result == "succeeded"
    (v2,) = app_pids(app_name)
    assert platform.scheduler is not None
    runtime = platform.scheduler.reconciler.workers[app_name].runtime
    assert isinstance(runtime, AppRuntime)

    # v3 takes a second to listen: NATS goes away while its rollout waits for it.
    slow = {"web": "sleep 1 && exec python3 app.py"}
    await platform.slug(app_name, "bbbbbbb", app_files)
    await platform.desire(app_name, version=3, sha="bbbbbbb", procfile=slow, formation={"web": 1})
    await until(lambda: asyncio.sleep(0, len(app_pids(app_name)) == 2))
    caplog.set_level(logging.WARNING, logger="deis_scheduler.app.reconciler")
    await asyncio.to_thread(nats_server.stop)

    def retrying():
        return any("retrying" in record.getMessage() for record in caplog.records)

    # v3 is live, but `endpoints` could not say so: v2 must serve on until they do.
    await until(lambda: asyncio.sleep(0, runtime.version == 3 and retrying()))
    assert v2 in app_pids(app_name)
    await asyncio.to_thread(nats_server.start)

    async def switched():
        endpoints = await platform.endpoints(app_name)
        return endpoints is not None and endpoints.version == 3

    await until(switched)
    await until(lambda: asyncio.sleep(0, v2 not in app_pids(app_name)))
    (web,) = runtime.procs.values()
    assert web.process is not None
    assert app_pids(app_name) == {web.process.pid}
    assert await failed_events(platform, app_name) == 0
