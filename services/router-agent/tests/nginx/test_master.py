# mypy: allow-untyped-defs, allow-untyped-calls, allow-incomplete-defs
"""The nginx master wrapper: idempotent close, also before start; which nginx it adopts."""

import subprocess
import sys

import pytest

from deis_router_agent.errors import NginxFailed
from deis_router_agent.nginx.master import MasterState, NginxMaster, _matches, find_running


def master(tmp_path, binary="nginx"):
    return NginxMaster(
        binary=binary, prefix=tmp_path, conf=tmp_path / "nginx.conf",
        stderr=tmp_path / "stderr", backoff_max=1.0,
    )  # fmt: skip


async def test_close_before_start_and_twice(tmp_path):
    nginx = master(tmp_path)
    await nginx.close()
    await nginx.close()
    assert nginx.state is MasterState.CLOSED
    assert not nginx.reload()
    with pytest.raises(NginxFailed):
        await nginx.start()


async def test_a_missing_binary_fails_to_start(tmp_path):
    nginx = master(tmp_path, binary=str(tmp_path / "no-nginx"))
    with pytest.raises(NginxFailed):
        await nginx.start()
    await nginx.close()


async def test_close_with_keep_running_twice_before_start(tmp_path):
    nginx = NginxMaster(
        binary="nginx", prefix=tmp_path, conf=tmp_path / "nginx.conf",
        stderr=tmp_path / "stderr", backoff_max=1.0, keep_running=True,
    )  # fmt: skip
    await nginx.close()
    await nginx.close()
    assert nginx.state is MasterState.CLOSED


def find(tmp_path):
    return find_running(
        pid_file=tmp_path / "nginx.pid", prefix=tmp_path, conf=tmp_path / "current" / "nginx.conf"
    )


def test_nothing_is_found_without_a_pid_file_or_with_garbage(tmp_path):
    assert find(tmp_path) is None
    (tmp_path / "nginx.pid").write_text("not a pid\n")
    assert find(tmp_path) is None


def test_a_pid_file_naming_a_dead_process_is_cleared(tmp_path):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    (tmp_path / "nginx.pid").write_text(f"{gone.pid}\n")
    assert find(tmp_path) is None
    assert not (tmp_path / "nginx.pid").exists()


def test_a_process_of_another_command_line_is_left_alone(tmp_path):
    # Named nginx, with the right prefix but another configuration: not this layout's.
    other = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)", "nginx", "-p", f"{tmp_path}/",
         "-c", f"{tmp_path}/other.conf"]
    )  # fmt: skip
    try:
        (tmp_path / "nginx.pid").write_text(f"{other.pid}\n")
        assert find(tmp_path) is None
        assert not (tmp_path / "nginx.pid").exists()
        assert other.poll() is None
    finally:
        other.kill()
        other.wait()


def test_a_command_line_matches_before_and_after_nginx_renames_itself(tmp_path):
    conf = tmp_path / "current" / "nginx.conf"
    argv = b"\0".join([b"/usr/sbin/nginx", b"-p", f"{tmp_path}/".encode(), b"-c", bytes(conf)])
    assert _matches(argv + b"\0", prefix=tmp_path, conf=conf)
    title = f"nginx: master process /usr/sbin/nginx -p {tmp_path}/ -c {conf}".encode()
    assert _matches(title + b"\0\0", prefix=tmp_path, conf=conf)
    assert not _matches(title + b".old", prefix=tmp_path, conf=conf)
    assert not _matches(title.replace(b"nginx", b"other"), prefix=tmp_path, conf=conf)
