"""Rollouts, crashes, scaling and deletion with real processes and a real nats-server."""

import asyncio
import contextlib
import os
import signal

import httpx
import pytest

from deis_scheduler.local.runtime import AppRuntime
from deis_shared import wire
from deis_shared.bus import watching
from deis_shared.events import logs as log_events
from deis_shared.kv import endpoints as endpoints_kv

PROCFILE = {"web": "python3 app.py", "worker": "python3 worker.py"}


async def deploy(platform, app, app_files, *, version, sha, formation=None, procfile=None, **kw):
    await platform.slug(app, sha, app_files)
    await platform.desire(
        app,
        version=version,
        sha=sha,
        procfile=procfile or PROCFILE,
        formation=formation or {"web": 1},
        **kw,
    )
    return await platform.outcome(app, version)


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_a_release_is_rolled_out_served_and_reported(
    platform, app_name, app_files, fetch, until
):
    lines = []

    async def collect(msg):
        lines.append(wire.decode(msg.data, log_events.LogLine))

    sub = await platform.nc.subscribe(log_events.subject(app_name), cb=collect)
    result, event = await deploy(
        platform,
        app_name,
        app_files,
        version=2,
        sha="aaaaaaa",
        formation={"web": 1, "worker": 1},
        config={"GREETING": "hi"},
    )

    assert result == "succeeded", event
    endpoints = await platform.endpoints(app_name)
    assert endpoints is not None
    assert endpoints.version == 2
    assert len(endpoints.upstreams) == 1
    answer = await fetch(endpoints.upstreams[0].port)
    assert answer.text == "hi from v2\n"
    procs = await platform.procs(app_name)
    assert procs is not None
    assert sorted((p.type, p.index, p.release, p.state) for p in procs.processes) == [
        ("web", 1, 2, "up"),
        ("worker", 1, 2, "up"),
    ]
    assert all(p.pid and pid_alive(p.pid) for p in procs.processes)

    async def worker_spoke():
        return any(line.message == "worker v2 up" for line in lines)

    await until(worker_spoke)
    await sub.unsubscribe()
    assert {line.process for line in lines} >= {"web.1", "worker.1"}


# The drain stands for the router's switch-over time: a loaded CI machine needs more than 0.3 s.
@pytest.mark.parametrize("scheduler_overrides", [{"drain_seconds": 1.0}])
async def test_a_rollout_under_load_loses_no_request(platform, app_name, app_files):
    assert (await deploy(platform, app_name, app_files, version=2, sha="aaaaaaa"))[0] == (
        "succeeded"
    )
    current: dict[str, int] = {}
    first = await platform.endpoints(app_name)
    current["port"] = first.upstreams[0].port
    watcher = watching.watch(
        js=platform.js, nc=platform.nc, bucket=endpoints_kv.BUCKET, keys=app_name
    )

    async def route():  # what the router does: follow the endpoints
        async for entry in watcher:
            if entry.value:
                value = wire.decode(entry.value, endpoints_kv.Endpoints)
                if value.upstreams:
                    current["port"] = value.upstreams[0].port

    answers: list[str] = []
    failures: list[str] = []
    stop = asyncio.Event()

    async def load():
        async with httpx.AsyncClient(timeout=5) as http:
            while not stop.is_set():
                try:
                    got = await http.get(f"http://127.0.0.1:{current['port']}/")
                    answers.append(got.text)
                except httpx.HTTPError as exc:
                    failures.append(repr(exc))

    router = asyncio.create_task(route())
    loader = asyncio.create_task(load())
    await asyncio.sleep(0.3)
    await platform.slug(app_name, "bbbbbbb", app_files)
    await platform.desire(
        app_name, version=3, sha="bbbbbbb", procfile=PROCFILE, formation={"web": 1}
    )
    result, _ = await platform.outcome(app_name, 3)
    await asyncio.sleep(0.5)
    stop.set()
    await loader
    router.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await router
    await watcher.close()

    assert result == "succeeded"
    assert failures == []
    assert len(answers) > 20
    assert "hello from v2\n" in answers
    assert answers[-1] == "hello from v3\n"


async def test_a_crashing_release_leaves_the_old_one_serving(platform, app_name, app_files, fetch):
    assert (await deploy(platform, app_name, app_files, version=2, sha="aaaaaaa"))[0] == (
        "succeeded"
    )
    before = await platform.endpoints(app_name)
    broken = {"web": "python3 -c 'import sys; print(\"boom\"); sys.exit(3)'"}

    result, event = await deploy(
        platform, app_name, app_files, version=3, sha="bbbbbbb", procfile=broken
    )

    assert result == "failed"
    assert event["reason"] == "web.1 exited with code 3 before becoming healthy"
    assert event["last_lines"] == ["boom"]
    assert await platform.endpoints(app_name) == before
    assert (await fetch(before.upstreams[0].port)).text == "hello from v2\n"


@pytest.mark.parametrize("scheduler_overrides", [{"deploy_timeout": 1.0}])
async def test_a_release_that_never_listens_fails_on_the_deadline(platform, app_name, app_files):
    silent = {"web": "python3 worker.py"}
    result, event = await deploy(
        platform, app_name, app_files, version=2, sha="aaaaaaa", procfile=silent
    )
    assert result == "failed"
    assert event["reason"] == "web.1 was not healthy within 1 s"
    assert event["last_lines"] == ["worker v2 up"]
    assert await platform.endpoints(app_name) is None


async def test_a_killed_process_is_restarted(platform, app_name, app_files, fetch, until):
    assert (await deploy(platform, app_name, app_files, version=2, sha="aaaaaaa"))[0] == (
        "succeeded"
    )
    endpoint = (await platform.endpoints(app_name)).upstreams[0]
    (first,) = (await platform.procs(app_name)).processes

    os.kill(first.pid, signal.SIGKILL)

    async def restarted():
        (now,) = (await platform.procs(app_name)).processes
        return now.state == "up" and now.pid != first.pid and now.restarts == 1

    async def answered():
        try:
            return await fetch(endpoint.port)
        except httpx.HTTPError:
            return None

    await until(restarted)
    assert (await until(answered)).text == "hello from v2\n"


async def test_scale_zero_to_ten_to_two(platform, app_name, app_files, fetch, until):
    assert (
        await deploy(platform, app_name, app_files, version=2, sha="aaaaaaa", formation={"web": 0})
    )[0] == "succeeded"
    assert (await platform.procs(app_name)).processes == []

    await platform.desire(
        app_name, version=2, sha="aaaaaaa", procfile=PROCFILE, formation={"web": 10}
    )

    async def ten_endpoints():
        endpoints = await platform.endpoints(app_name)
        return endpoints if endpoints is not None and len(endpoints.upstreams) == 10 else None

    ten = await until(ten_endpoints)
    answers = [await fetch(u.port) for u in ten.upstreams]
    assert {a.text for a in answers} == {"hello from v2\n"}
    pids = {p.pid for p in (await platform.procs(app_name)).processes}
    assert len(pids) == 10

    await platform.desire(
        app_name, version=2, sha="aaaaaaa", procfile=PROCFILE, formation={"web": 2}
    )

    async def two_left():
        return len((await platform.procs(app_name)).processes) == 2

    await until(two_left)
    two = await platform.endpoints(app_name)
    assert len(two.upstreams) == 2
    kept = {p.pid for p in (await platform.procs(app_name)).processes}
    assert kept < pids
    # The 8 left the endpoints at once; they stop after the drain.
    await until(lambda: asyncio.sleep(0, not any(pid_alive(pid) for pid in pids - kept)))


async def test_deleting_an_app_stops_everything_and_forgets_it(
    platform, app_name, app_files, tmp_path, until
):
    assert (
        await deploy(
            platform,
            app_name,
            app_files,
            version=2,
            sha="aaaaaaa",
            formation={"web": 1, "worker": 2},
        )
    )[0] == "succeeded"
    pids = [p.pid for p in (await platform.procs(app_name)).processes]
    assert len(pids) == 3

    await platform.forget(app_name)

    async def forgotten():
        return await platform.procs(app_name) is None

    await until(forgotten)
    assert await platform.endpoints(app_name) is None
    assert not any(pid_alive(pid) for pid in pids)
    assert not (tmp_path / "scheduler" / "apps" / app_name).exists()


async def test_a_restart_request_restarts_the_matching_processes(
    platform, app_name, app_files, until
):
    formation = {"web": 1, "worker": 2}
    assert (
        await deploy(platform, app_name, app_files, version=2, sha="aaaaaaa", formation=formation)
    )[0] == "succeeded"
    before = {(p.type, p.index): p.pid for p in (await platform.procs(app_name)).processes}

    await platform.desire(
        app_name,
        version=2,
        sha="aaaaaaa",
        procfile=PROCFILE,
        formation=formation,
        restarts={"worker": 1},
    )

    async def workers_restarted():
        now = {(p.type, p.index): p for p in (await platform.procs(app_name)).processes}
        fresh = all(
            now[("worker", i)].pid != before[("worker", i)] and now[("worker", i)].state == "up"
            for i in (1, 2)
        )
        return now if fresh else None

    now = await until(workers_restarted)
    assert now[("web", 1)].pid == before[("web", 1)]
    assert not pid_alive(before[("worker", 1)])


async def test_the_backend_restarts_a_process_type_when_asked(platform, app_name, app_files, until):
    formation = {"web": 1, "worker": 1}
    assert (
        await deploy(platform, app_name, app_files, version=2, sha="aaaaaaa", formation=formation)
    )[0] == "succeeded"
    before = {(p.type, p.index): p.pid for p in (await platform.procs(app_name)).processes}
    assert platform.scheduler is not None
    runtime = platform.scheduler.reconciler.workers[app_name].runtime

    await runtime.restart(["web"])

    now = {(p.type, p.index): p for p in (await platform.procs(app_name)).processes}
    assert now[("web", 1)].pid != before[("web", 1)]
    assert now[("web", 1)].state == "up"
    assert now[("worker", 1)].pid == before[("worker", 1)]
    assert not pid_alive(before[("web", 1)])


async def test_a_memory_limit_is_applied_and_reported(platform, app_name, app_files, fetch):
    allocate = {
        "web": "python3 app.py",
        "worker": "python3 -c 'b = bytearray(300 * 1024 * 1024)' || "
        "(echo out of memory; exec python3 worker.py)",
    }
    await platform.slug(app_name, "aaaaaaa", app_files)
    await platform.desire(
        app_name,
        version=2,
        sha="aaaaaaa",
        procfile=allocate,
        formation={"web": 1, "worker": 1},
        memory={"worker": "200M"},
    )
    result, event = await platform.outcome(app_name, 2)
    assert result == "succeeded", event
    procs = {p.type: p for p in (await platform.procs(app_name)).processes}
    assert procs["worker"].memory == "200M"
    assert procs["web"].memory is None
    assert platform.scheduler is not None
    runtime = platform.scheduler.reconciler.workers[app_name].runtime
    assert isinstance(runtime, AppRuntime)
    worker = runtime.procs[("worker", 1)]
    assert "out of memory" in worker.lines


async def test_a_cpu_limit_is_applied_where_the_host_allows_and_reported(
    platform, app_name, app_files, until
):
    assert platform.scheduler is not None
    control = platform.scheduler.ctx.cpu
    await platform.slug(app_name, "aaaaaaa", app_files)
    await platform.desire(
        app_name,
        version=2,
        sha="aaaaaaa",
        procfile=PROCFILE,
        formation={"web": 1, "worker": 1},
        cpu={"worker": "250m"},
    )
    result, event = await platform.outcome(app_name, 2)
    assert result == "succeeded", event
    procs = {p.type: p for p in (await platform.procs(app_name)).processes}
    assert procs["web"].cpu is None
    if control is None:  # no writable cgroup here: nothing is claimed
        assert procs["worker"].cpu is None
        return
    assert procs["worker"].cpu == "250m"
    group = control.group(procs["worker"].name)
    assert str(procs["worker"].pid) in (group / "cgroup.procs").read_text().split()
    await platform.forget(app_name)
    await until(lambda: asyncio.sleep(0, not group.exists()))  # removed with the app
