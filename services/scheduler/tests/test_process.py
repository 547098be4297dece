"""The scheduler as a real process: SIGTERM stops it with exit code 0 and leaves the apps
running; SIGUSR1 (what `deisctl down` sends) stops them too."""

import asyncio
import contextlib
import os
import signal

from deis_testing import ServiceProcess, free_port


async def test_sigterm_stops_the_scheduler_with_exit_code_0(nats_server_factory, tmp_path):
    server = nats_server_factory()
    port = free_port()
    env = {
        **os.environ,
        "DEIS_NATS_URL": server.url,
        "DEIS_DATA_DIR": str(tmp_path / "scheduler"),
        "DEIS_OBJECT_STORE_ROOT": str(tmp_path / "objects"),
        "DEIS_HEALTH_PORT": str(port),
        "DEIS_SHUTDOWN_TIMEOUT": "10",
    }
    scheduler = ServiceProcess(
        "deis_scheduler.main", env=env, port=port, log=tmp_path / "scheduler.log"
    )
    await asyncio.to_thread(scheduler.start)
    assert await asyncio.to_thread(scheduler.stop, grace=15) == 0


async def test_sigusr1_stops_the_scheduler_and_its_apps_sigterm_leaves_them(
    bus, scheduler_process, app_name, app_files, app_pids, tmp_path, until
):
    first = scheduler_process("first")
    await asyncio.to_thread(first.start)
    try:
        await bus.slug(app_name, "aaaaaaa", app_files)
        await bus.desire(
            app_name,
            version=2,
            sha="aaaaaaa",
            procfile={"web": "python3 app.py", "worker": "python3 worker.py"},
            formation={"web": 1, "worker": 1},
        )
        assert (await bus.outcome(app_name, 2))[0] == "succeeded"
    finally:
        assert await asyncio.to_thread(first.stop, grace=15) == 0
    running = app_pids(app_name)
    assert len(running) == 2  # SIGTERM: the apps run on

    second = scheduler_process("second")
    await asyncio.to_thread(second.start)
    try:
        assert second.process is not None
        await until(lambda: asyncio.sleep(0, "adopted 2 running" in second.log.read_text()))
        second.process.send_signal(signal.SIGUSR1)
        assert await asyncio.to_thread(second.process.wait, 15) == 0
        left = app_pids(app_name)
    finally:
        await asyncio.to_thread(second.stop)
        for pid in app_pids(app_name):  # only if the test failed
            os.killpg(pid, signal.SIGKILL)
    assert left == set()


async def test_where_no_sandbox_can_be_made_the_scheduler_refuses_to_start_and_says_why(
    nats_server_factory, tmp_path
):
    server = nats_server_factory()
    port = free_port()
    nothing = tmp_path / "no-programs"
    nothing.mkdir()
    env = {
        **os.environ,
        "PATH": str(nothing),  # no bwrap to be found
        "DEIS_NATS_URL": server.url,
        "DEIS_DATA_DIR": str(tmp_path / "scheduler"),
        "DEIS_OBJECT_STORE_ROOT": str(tmp_path / "objects"),
        "DEIS_HEALTH_PORT": str(port),
    }
    scheduler = ServiceProcess(
        "deis_scheduler.main", env=env, port=port, log=tmp_path / "scheduler.log"
    )
    with contextlib.suppress(RuntimeError):  # it may exit before or after its health port opens
        await asyncio.to_thread(scheduler.start)
    assert scheduler.process is not None
    assert await asyncio.to_thread(scheduler.process.wait, 30) != 0
    said = (tmp_path / "scheduler.log").read_text()
    assert "the scheduler cannot run apps: bubblewrap (bwrap) is not installed" in said
    assert "apt-get install bubblewrap" in said
