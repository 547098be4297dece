"""The supervisor with real processes: start in waves, readiness, restarts, stop."""

import os
import signal
import socket
import sys
import time
from pathlib import Path

import pytest

from deisctl import supervisor
from deisctl.errors import CtlError
from deisctl.supervisor import Component, Supervisor

SERVE = (
    "import socket, sys, time\n"
    "s = socket.socket(); s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen()\n"
    "print('listening', flush=True)\n"
    "time.sleep(300)\n"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def server(name: str, tmp_path: Path, *, wave: int = 0) -> Component:
    port = free_port()
    return Component(
        name=name,
        command=[sys.executable, "-c", SERVE, str(port)],
        env={"PATH": os.defpath},
        ready=lambda: accepts(port),
        log=tmp_path / f"{name}.log",
        wave=wave,
        start_timeout=20,
    )


def test_waves_start_in_order_and_stop_in_reverse(tmp_path):
    first, second, third = (
        server("first", tmp_path),
        server("second", tmp_path, wave=1),
        server("third", tmp_path, wave=1),
    )
    ready: list[str] = []
    running = Supervisor([first, second, third])
    running.start(on_ready=lambda c: ready.append(c.name))
    try:
        assert ready == ["first", "second", "third"]
        assert all(c.running for c in (first, second, third))
        assert "listening" in first.log.read_text()
    finally:
        running.stop(grace=5)
    assert not any(c.running for c in (first, second, third))
    running.stop(grace=5)  # idempotent


def test_a_component_that_dies_while_starting_fails_the_start_with_its_log(tmp_path):
    good = server("good", tmp_path)
    bad = Component(
        name="bad",
        command=[sys.executable, "-c", "import sys; print('no database here'); sys.exit(3)"],
        env={"PATH": os.defpath},
        ready=lambda: False,
        log=tmp_path / "bad.log",
        wave=1,
    )
    with pytest.raises(CtlError, match="bad exited while starting") as failure:
        Supervisor([good, bad]).start()
    assert "no database here" in str(failure.value)
    assert not good.running  # what had started is stopped again


def test_a_component_not_ready_in_time_fails_the_start(tmp_path):
    slow = server("slow", tmp_path)
    slow.ready = lambda: False
    slow.start_timeout = 0.5
    with pytest.raises(CtlError, match="slow was not ready after"):
        Supervisor([slow]).start()
    assert not slow.running


def test_a_process_that_dies_is_restarted(tmp_path, monkeypatch):
    monkeypatch.setattr(supervisor, "BACKOFF_MAX", 0.2)
    component = server("flaky", tmp_path)
    running = Supervisor([component])
    running.start()
    first = component.pid
    assert first is not None
    os.kill(first, signal.SIGKILL)
    changes: list[int | None] = []
    deadline = time.monotonic() + 20

    def stopping() -> bool:
        return bool(changes) or time.monotonic() > deadline

    try:
        running.watch(stopping=stopping, on_change=lambda: changes.append(component.pid))
        assert changes, "not restarted"
        assert component.restarts == 1
        assert changes[0] not in (None, first)
    finally:
        running.stop(grace=5)


@pytest.mark.parametrize(("healthy_run", "second_wait"), [(0.3, 1.0), (60.0, 2.0)])
def test_the_backoff_starts_over_once_a_process_ran_healthily(
    tmp_path, monkeypatch, healthy_run, second_wait
):
    monkeypatch.setattr(supervisor, "HEALTHY_RUN", healthy_run)
    component = server("flaky", tmp_path)
    running = Supervisor([component])
    running.start()
    waits: list[float] = []
    deadline = time.monotonic() + 30

    def stopping() -> bool:
        if component.due is not None and len(waits) < component.restarts:
            waits.append(component.due - time.monotonic())
        return len(waits) == 2 or time.monotonic() > deadline

    def restarted() -> None:
        time.sleep(0.5)  # runs past HEALTHY_RUN (when it is 0.3 s) before dying again
        assert component.pid is not None
        os.kill(component.pid, signal.SIGKILL)

    try:
        assert component.pid is not None
        os.kill(component.pid, signal.SIGKILL)
        running.watch(stopping=stopping, on_change=restarted)
        assert len(waits) == 2, waits
        assert 0.5 < waits[0] <= 1.0  # the first death: 1 s
        assert second_wait - 0.5 < waits[1] <= second_wait
    finally:
        running.stop(grace=5)
