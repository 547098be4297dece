"""`deisctl down` leaves no app process running, adopted ones included, even when the scheduler
cannot stop them itself, and no nginx, adopted by a router agent started again included (a
platform of this module's own)."""

import os
import signal
from pathlib import Path

import pytest

from deis_testing import app_pids


def running(pid: int) -> bool:
    """Whether `pid` runs (a zombie, dead but not reaped, does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]


def test_down_stops_adopted_apps_even_when_the_scheduler_cannot(
    python_app, platform, developer, deisctl, until
):
    app = f"{developer.username}-down"
    copy = developer.checkout(app, python_app)
    developer.deis("create", app, cwd=copy)
    developer.push(copy)
    until(lambda: platform.get(app).text == "hello from v2\n")
    developer.deis("ps:scale", "worker=1", "-a", app)
    until(lambda: len(app_pids(app)) == 2)
    serving = app_pids(app)

    def pid_of(service):
        for line in deisctl("status", data_dir=platform.data_dir).stdout.splitlines():
            words = line.split()
            if words[:2] == [service, "up"]:
                return int(words[2])
        return None

    def scheduler_pid():
        return pid_of("scheduler")

    # A scheduler killed -9 is started again, and adopts the apps: nothing restarts.
    first = scheduler_pid()
    assert first is not None
    os.kill(first, signal.SIGKILL)
    until(lambda: scheduler_pid() not in (None, first), seconds=30)
    adopted = platform.data_dir / "logs" / "scheduler.log"
    until(lambda: f"{app}: adopted 2 running processes" in adopted.read_text(), seconds=30)
    assert app_pids(app) == serving
    assert platform.get(app).text == "hello from v2\n"

    # A router agent killed -9 is started again, and adopts its nginx: nothing restarts.
    nginx_pid_file = platform.data_dir / "router" / "nginx.pid"
    nginx = int(nginx_pid_file.read_text())
    router = pid_of("router")
    assert router is not None
    os.kill(router, signal.SIGKILL)
    until(lambda: pid_of("router") not in (None, router), seconds=30)
    router_log = platform.data_dir / "logs" / "router.log"
    until(lambda: f"adopted nginx {nginx}" in router_log.read_text(), seconds=30)
    assert int(nginx_pid_file.read_text()) == nginx
    assert platform.get(app).text == "hello from v2\n"

    # A scheduler that cannot act (frozen) when the platform stops: the supervisor kills it
    # after its grace period, and the backstop stops the apps from the scheduler's records.
    second = scheduler_pid()
    assert second is not None
    os.kill(second, signal.SIGSTOP)
    stopped = deisctl("down", data_dir=platform.data_dir)

    assert stopped.returncode == 0, stopped.stderr
    assert app_pids(app) == set()
    assert not running(nginx)  # the router agent stopped it: `deisctl down` sends SIGUSR1
    assert not any(line.startswith("deisctl: warning") for line in stopped.stderr.splitlines())
    log = (platform.data_dir / "logs" / "deisctl.log").read_text()
    assert log.count(f"stopped {app} ") == 2, log[-3000:]
