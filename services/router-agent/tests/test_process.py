# mypy: allow-untyped-defs, allow-untyped-calls, allow-incomplete-defs
"""The agent as its own process: serves through nginx, and SIGTERM stops both cleanly."""

import os
import socket
import urllib.error
import urllib.request

import pytest

from deis_testing import ServiceProcess, free_port


def test_sigterm_stops_the_agent_and_its_nginx(nats_server_factory, tmp_path):
    server = nats_server_factory()
    port = free_port()
    env = {
        **os.environ,
        "DEIS_NATS_URL": server.url,
        "DEIS_DATA_DIR": str(tmp_path / "router"),
        "DEIS_HTTP_PORT": str(port),
        "DEIS_HTTPS_PORT": str(free_port()),
        "DEIS_SHUTDOWN_TIMEOUT": "15",
    }
    agent = ServiceProcess("deis_router_agent.main", env=env, port=port, log=tmp_path / "agent.log")
    agent.start()
    try:
        request = urllib.request.Request(f"http://127.0.0.1:{port}/", headers={"Host": "x.y"})
        with pytest.raises(urllib.error.HTTPError, match="404") as raised:
            urllib.request.urlopen(request, timeout=5)
        raised.value.close()
        pid = int((tmp_path / "router" / "nginx.pid").read_text())
    finally:
        assert agent.stop(grace=15) == 0
    assert not os.path.exists(f"/proc/{pid}")
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0
