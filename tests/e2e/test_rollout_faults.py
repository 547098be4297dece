"""End to end: a config change whose wait meets a service killed -9 still ends with the truth.

Through `deis` against `deisctl up`: while `config:set` waits for its rollout (the new process
sleeps before it listens), the scheduler, the router agent or the controller is killed with
SIGKILL and started again by `deisctl`'s supervisor. This module's platform runs with a short
controller rollout wait (`DEISCTL_SETS`: `deisctl up --set controller.rollout_wait=20`), and
the request must end within it, either with success or a clear error, and the app must serve
the new config afterwards; the controller's own death shows as a dropped connection, after which
the release is recorded, served, and a new change works.
"""

import contextlib
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

ROLLOUT_WAIT = 20
"""Seconds this module's controller waits for a rollout before answering that it goes on."""

DEISCTL_SETS = (f"controller.rollout_wait={ROLLOUT_WAIT}",)
"""This module's platform: `deisctl up --set` arguments (see the `platform` fixture)."""

ANSWERED_WITHIN = ROLLOUT_WAIT + 5.0
"""Seconds a request whose wait met a killed service may take in all: the controller's wait,
and a little for the client and the answer."""

SLOW = "4"
"""Seconds the new release's process sleeps before it listens: the request waits meanwhile."""


def _pid_of(deisctl, data_dir: Path, name: str) -> int | None:
    for line in deisctl("status", data_dir=data_dir).stdout.splitlines():
        words = line.split()
        if words[:2] == [name, "up"]:
            return int(words[2])
    return None


class Change:
    """`deis config:set` running in a thread, timed."""

    def __init__(self, developer, app: str, *pairs: str) -> None:
        self.done: subprocess.CompletedProcess[str] | None = None
        self.took = 0.0

        def run() -> None:
            started = time.monotonic()
            with contextlib.suppress(subprocess.TimeoutExpired):  # hung: `ended` says so
                self.done = developer.deis(
                    "config:set", *pairs, "-a", app, check=False, timeout=ANSWERED_WITHIN + 10
                )
            self.took = time.monotonic() - started

        self._thread = threading.Thread(target=run)
        self._thread.start()

    def waiting(self) -> bool:
        return self._thread.is_alive()

    def ended(self) -> subprocess.CompletedProcess[str]:
        self._thread.join(ANSWERED_WITHIN + 20)
        assert self.done is not None, f"config:set did not end within {ANSWERED_WITHIN + 10} s"
        return self.done


def _deployed(developer, app: str, files: dict[str, str]) -> None:
    copy = developer.checkout(app, files)
    developer.deis("create", app, cwd=copy)
    developer.push(copy)


def _kill_while_waiting(
    platform, developer, deisctl, until, change: Change, *, app: str, service: str
) -> None:
    """Kill `service` -9 once `change` made v3 and waits; return once it is started again."""
    pid = _pid_of(deisctl, platform.data_dir, service)
    assert pid is not None, f"{service} is not up"
    until(lambda: "v3" in developer.deis("releases", "-a", app).stdout, seconds=10)
    assert change.waiting(), "config:set answered before the new process could listen"
    os.kill(pid, signal.SIGKILL)
    until(lambda: _pid_of(deisctl, platform.data_dir, service) not in (None, pid), seconds=30)


def test_the_controller_runs_with_this_modules_rollout_wait(platform, deisctl):
    pid = _pid_of(deisctl, platform.data_dir, "controller")
    assert pid is not None, "the controller is not up"
    environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    assert f"DEIS_ROLLOUT_WAIT={ROLLOUT_WAIT}".encode() in environ


@pytest.mark.parametrize("service", ["scheduler", "router"])
def test_a_config_change_ends_with_the_truth_when_a_service_is_killed_meanwhile(
    platform, developer, deisctl, until, moody_app, service
):
    app = f"{developer.username}-{service[:5]}"
    _deployed(developer, app, moody_app)
    assert platform.get(app).text == "hello from v2\n"

    change = Change(developer, app, f"SLOW={SLOW}", f"GREETING=after-{service}")
    _kill_while_waiting(platform, developer, deisctl, until, change, app=app, service=service)
    done = change.ended()

    said = done.stderr + done.stdout
    assert change.took < ANSWERED_WITHIN, (change.took, said)
    assert "Traceback" not in said, said
    if done.returncode != 0:  # an answer of the controller's, not a lost connection
        lost = ("cannot reach the controller", "talking to the controller", "did not answer")
        assert not any(words in said for words in lost), said
    # Success: served at once, as any config:set; an error that the rollout goes on: soon.
    wanted = f"after-{service} from v3\n"
    if done.returncode == 0 and service == "scheduler":
        assert platform.get(app).text == wanted
    until(lambda: platform.get(app).text == wanted, seconds=15)
    releases = developer.deis("releases", "-a", app).stdout
    assert "v3" in releases and "failed" not in releases.lower(), releases


def test_a_config_change_whose_controller_is_killed_leaves_no_stuck_state(
    platform, developer, deisctl, until, moody_app
):
    app = f"{developer.username}-ctl"
    _deployed(developer, app, moody_app)

    change = Change(developer, app, f"SLOW={SLOW}", "GREETING=orphaned")
    _kill_while_waiting(platform, developer, deisctl, until, change, app=app, service="controller")
    done = change.ended()

    said = done.stderr + done.stdout
    assert done.returncode != 0, said  # the connection dropped: the client cannot know more
    assert "controller" in said and "Traceback" not in said, said
    assert change.took < ANSWERED_WITHIN, (change.took, said)
    # The release made before the kill is still there, and either serves or is failed.
    until(lambda: developer.deis("releases", "-a", app, check=False).returncode == 0, 30)
    releases = developer.deis("releases", "-a", app).stdout
    assert "v3" in releases, releases
    if "failed" not in releases.lower():
        until(lambda: platform.get(app).text == "orphaned from v3\n", seconds=20)
    started = time.monotonic()
    developer.deis("config:set", "SLOW=0", "GREETING=again", "-a", app)
    assert time.monotonic() - started < ANSWERED_WITHIN
    assert platform.get(app).text == "again from v4\n"
