import socket
from pathlib import Path

from deis_slugrunner import health


def test_not_healthy_before_the_app_starts(tmp_path: Path) -> None:
    assert not health.healthy(tmp_path, port="1")


def test_a_worker_is_healthy_once_started(tmp_path: Path) -> None:
    health.mark_started(tmp_path, process_type="worker")
    assert health.healthy(tmp_path, port="1")


def test_a_web_process_is_healthy_while_it_accepts_connections(tmp_path: Path) -> None:
    health.mark_started(tmp_path, process_type="web")
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = str(listener.getsockname()[1])
        assert health.healthy(tmp_path, port=port)
    assert not health.healthy(tmp_path, port=port)
