# mypy: allow-untyped-defs, allow-untyped-calls, allow-incomplete-defs
"""The agent as its own process: serves through nginx, and its stop signal stops both cleanly
(SIGTERM leaves nginx running for the next agent: `test_adoption`)."""

import os
import signal
import socket
import urllib.error
import urllib.request

import pytest

from deis_router_agent.service import STOP_NGINX_SIGNAL
from deis_testing import ServiceProcess, free_port


def test_the_stop_signal_stops_the_agent_and_its_nginx(nats_server_factory, tmp_path):
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
        assert agent.process is not None
        agent.process.send_signal(STOP_NGINX_SIGNAL)
        assert agent.process.wait(timeout=15) == 0
        agent.stop()
    assert STOP_NGINX_SIGNAL == signal.SIGUSR1  # what deisctl sends (`ROUTER_STOP_NGINX`)
    assert not os.path.exists(f"/proc/{pid}")
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0
