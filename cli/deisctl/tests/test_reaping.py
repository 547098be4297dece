"""`deisctl down` stops the app processes the scheduler's records name, even with no supervisor
running (one killed with -9 leaves its services and the apps behind), and no other process."""

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from deis_scheduler.local import records
from deis_scheduler.local.processes import start_ticks
from deis_testing import unique_name
from deisctl.layout import Layout


def entry(index: int, *, pid: int, ticks: int) -> records.ProcessRecord:
    return records.ProcessRecord(
        type="web",
        index=index,
        release=2,
        port=5000 + index,
        role="live",
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
def sleepers() -> Iterator[list[subprocess.Popen[bytes]]]:
    """`sleep 300` processes, each leading a session of its own; killed afterwards."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@pytest.mark.timeout(60)  # `deisctl down` runs the scheduler's stop-apps: a fresh interpreter
def test_down_without_a_supervisor_stops_the_recorded_app_processes(tmp_path, sleepers):
    layout = Layout(tmp_path / "data")
    layout.create()
    app = unique_name("app-")
    for _ in range(2):
        sleepers.append(subprocess.Popen(["sleep", "300"], start_new_session=True))
    app_process, other = sleepers
    ticks = start_ticks(app_process.pid)
    other_ticks = start_ticks(other.pid)
    assert ticks is not None and other_ticks is not None
    records.Records(layout.service("scheduler") / "records").save(
        records.AppRecord(
            app=app,
            version=2,
            failed=[],
            restarts_seen=None,
            processes=[
                entry(1, pid=app_process.pid, ticks=ticks),
                entry(2, pid=other.pid, ticks=other_ticks + 1),  # a pid reused since
            ],
        )
    )

    done = subprocess.run(
        [sys.executable, "-m", "deisctl.main", "down", "--data-dir", str(layout.root)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("not running")
    assert f"stopped {app} web.1 (pid {app_process.pid})" in done.stderr
    assert app_process.wait(timeout=5) == -signal.SIGTERM
    assert other.poll() is None


@pytest.mark.timeout(60)
def test_down_with_nothing_recorded_says_not_running(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "deisctl.main", "down", "--data-dir", str(tmp_path / "x")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("not running")
    assert done.stderr == ""
