"""The data dir: reachability for the unprivileged users, the lock and the state file."""

import os
import pwd

import pytest

from deisctl import state
from deisctl.errors import CtlError
from deisctl.layout import Layout, reachable_by


def test_a_directory_under_a_closed_one_is_not_reachable_by_others(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("needs root to judge for another user")
    closed = tmp_path / "closed"
    inner = closed / "inner"
    inner.mkdir(parents=True)
    closed.chmod(0o700)
    tmp_path.chmod(0o755)
    nobody = pwd.getpwnam("nobody").pw_name
    assert not reachable_by(inner / "data", nobody)
    closed.chmod(0o711)
    # pytest's own base directory may be closed too: judge from an open one.
    if reachable_by(tmp_path, nobody):
        assert reachable_by(inner / "data", nobody)


def test_the_lock_admits_one_supervisor(tmp_path):
    layout = Layout(tmp_path / "data")
    layout.create()
    first = state.Lock(layout)
    first.acquire()
    try:
        assert state.held(layout)
        with pytest.raises(CtlError, match="already running"):
            state.Lock(layout).acquire()
    finally:
        first.release()
        first.release()
    assert not state.held(layout)


def test_the_state_file_is_private_and_round_trips(tmp_path):
    layout = Layout(tmp_path / "data")
    layout.create()
    written = state.State(pid=123, data_dir=str(layout.root), ready=True, urls={"a": "b"})
    state.write(layout, written)
    assert state.read(layout) == written
    assert layout.state.stat().st_mode & 0o777 == 0o600
    state.remove(layout)
    assert state.read(layout) is None
    layout.state.write_text("{not json")
    assert state.read(layout) is None
