"""`deis-scheduler stop-apps`: the recorded processes stop, and nothing the records do not vouch
for is signalled (a pid whose start time differs, a process that leads no group of its own)."""

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from deis_scheduler.local import records, stopping
from deis_scheduler.local.processes import start_ticks
from deis_shared import sandbox
from deis_testing import traversable, unique_name

# The leader ignores SIGTERM (a stubborn app) and has a child in its group.
STUBBORN = "trap '' TERM; sleep 300 & wait"


def spawn(command: str, *, session: bool = True) -> subprocess.Popen[bytes]:
    return subprocess.Popen(["/bin/sh", "-c", command], start_new_session=session)


def group_members(pgid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            state, _, group = stat.rsplit(")", 1)[1].split()[:3]
            if int(group) == pgid and state not in ("Z", "X"):
                found.add(int(entry.name))
    return found


def entry(index: int, *, pid: int, ticks: int | None, role: records.Role = "live"):
    return records.ProcessRecord(
        type="web",
        index=index,
        release=2,
        port=5000 + index,
        role=role,
        pid=pid,
        start_ticks=ticks,
        command="sleep 300",
        cwd=Path("/"),
        env={},
        run_as=None,
        memory=None,
        started=None,
        restarts=0,
        exit_code=None,
    )


@pytest.fixture
def spawned():
    """Processes the test starts; whatever is left of their groups is killed afterwards."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        process.wait()


async def test_the_recorded_processes_stop_and_no_other(spawned, tmp_path, until):
    polite, stubborn, reused, follower = (
        spawn("exec sleep 300"),
        spawn(STUBBORN),
        spawn("exec sleep 300"),
        spawn("exec sleep 300", session=False),  # in our own group: not a group leader
    )
    spawned.extend([polite, stubborn, reused, follower])
    await until(lambda: asyncio.sleep(0, len(group_members(stubborn.pid)) == 2))
    ticks: dict[int, int] = {}
    for process in spawned:
        started = start_ticks(process.pid)
        assert started is not None
        ticks[process.pid] = started
    app = unique_name("app-")
    store = records.Records(tmp_path / "records")
    store.save(
        records.AppRecord(
            app=app,
            version=2,
            failed=[],
            restarts_seen=None,
            processes=[
                entry(1, pid=polite.pid, ticks=ticks[polite.pid]),
                entry(2, pid=stubborn.pid, ticks=ticks[stubborn.pid], role="pending"),
                # The pid of another process now (another start time): never signalled.
                entry(3, pid=reused.pid, ticks=ticks[reused.pid] - 1),
                entry(4, pid=follower.pid, ticks=ticks[follower.pid]),
                entry(5, pid=999_999_999, ticks=1),  # gone
            ],
        )
    )

    stopped = await asyncio.to_thread(stopping.stop_recorded, store.load(), grace=0.5)

    assert {(s.label, s.pid) for s in stopped} == {("web.1", polite.pid), ("web.2", stubborn.pid)}
    assert polite.wait(timeout=5) == -signal.SIGTERM
    assert stubborn.wait(timeout=5) == -signal.SIGKILL  # after the grace period
    await until(lambda: asyncio.sleep(0, not group_members(stubborn.pid)))  # its child too
    assert reused.poll() is None
    assert follower.poll() is None


@pytest.mark.timeout(60)  # a fresh interpreter imports the whole scheduler (cold: seconds)
async def test_stop_apps_is_a_command_of_the_scheduler(spawned, tmp_path):
    app = unique_name("app-")
    process = spawn("exec sleep 300")
    spawned.append(process)
    data_dir = tmp_path / "scheduler"
    records.Records(data_dir / "records").save(
        records.AppRecord(
            app=app,
            version=2,
            failed=[1],
            restarts_seen=None,
            processes=[entry(1, pid=process.pid, ticks=start_ticks(process.pid))],
        )
    )
    env = {"PATH": os.environ["PATH"], "DEIS_DATA_DIR": str(data_dir), "DEIS_LOG_JSON": "false"}

    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "deis_scheduler.main", "stop-apps"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout == f"stopped {app} web.1 (pid {process.pid})\n"
    assert process.wait(timeout=5) == -signal.SIGTERM
    # The record stays, failed versions included, for the next scheduler.
    (kept,) = records.Records(data_dir / "records").load()
    assert kept.failed == [1]


async def test_a_sandboxed_process_gets_sigterm_past_bwrap_and_its_grace(spawned, tmp_path):
    release = traversable(tmp_path / "release")
    done = tmp_path / "out"
    done.mkdir(mode=0o777)
    done.chmod(0o777)
    box = sandbox.Sandbox(
        uid=231_200 if os.geteuid() == 0 else None,
        mounts=(sandbox.Mount(done, "/out", writable=True),),
        workdir="/",
        hostname="app",
    )
    graceful = "trap 'sleep 0.3; echo bye > /out/said; exit 0' TERM; while :; do sleep 0.05; done"
    confined = sandbox.confine(["/bin/sh", "-c", graceful], box)
    process = subprocess.Popen(
        confined.argv,
        user=confined.uid,
        group=confined.gid,
        extra_groups=[] if confined.uid is not None else None,
        env={"PATH": sandbox.SYSTEM_PATH},
        cwd=release,
        start_new_session=True,
    )
    spawned.append(process)
    await asyncio.sleep(0.5)
    ticks = start_ticks(process.pid)
    assert ticks is not None
    store = records.Records(tmp_path / "records")
    sandboxed = entry(1, pid=process.pid, ticks=ticks).model_copy(update={"sandboxed": True})
    store.save(
        records.AppRecord(
            app=unique_name("app-"),
            version=2,
            failed=[],
            restarts_seen=None,
            processes=[sandboxed],
        )
    )

    stopped = await asyncio.to_thread(stopping.stop_recorded, store.load(), grace=5)

    assert [s.pid for s in stopped] == [process.pid]
    assert process.wait(timeout=5) == 0  # the command's own exit, passed on by bwrap
    assert (done / "said").read_text() == "bye\n"
