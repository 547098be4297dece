# mypy: allow-untyped-defs, allow-untyped-calls, allow-incomplete-defs
"""Who nginx workers run as, when the agent is root."""

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from deis_router_agent.nginx import users

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the `user` directive matters as root")


def test_workers_run_as_the_user_when_it_can_reach_the_temp_dir():
    base = Path(tempfile.mkdtemp(prefix="deis-router-users-"))
    try:
        base.chmod(0o755)
        if not all(d.stat().st_mode & 0o001 for d in base.parents):
            pytest.skip("the temp dir's parents are not world-traversable here")
        temp = base / "temp"
        temp.mkdir()
        worker = users.worker_user(name="nobody", temp=temp)
        assert worker.directive is not None and worker.directive.startswith("nobody ")
        assert worker.owner is not None and worker.owner[0] != 0
    finally:
        shutil.rmtree(base)


def test_workers_run_as_root_when_the_user_cannot_reach_the_temp_dir(tmp_path):
    hidden = tmp_path / "home"
    hidden.mkdir(mode=0o700)
    (hidden / "temp").mkdir()
    worker = users.worker_user(name="nobody", temp=hidden / "temp")
    assert worker.directive is not None and worker.directive.startswith("root ")
    assert worker.owner == (0, 0)


def test_an_empty_user_means_root_and_a_bad_name_is_refused(tmp_path):
    assert users.worker_user(name="", temp=tmp_path).owner == (0, 0)
    with pytest.raises(ValueError, match="invalid"):
        users.worker_user(name="x; y", temp=tmp_path)
