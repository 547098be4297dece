"""ps, run and logs: against the real controller (which has no scheduler or logger here) and
against a small fake controller for the answers only a running platform gives."""

import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from deis_testing import free_port


@pytest.fixture
def app(admin, app_name):
    admin.ok("create", app_name, "--no-remote")
    return app_name


def test_ps_scale_validates_targets_before_sending(admin, app):
    assert admin.fails("ps:scale", "web", "-a", app) == (
        "deis: 'web' does not match the pattern 'type=num', ex: web=2"
    )
    assert admin("scale", "Web=1", "-a", app).code == 2
    assert admin("scale", "web=-1", "-a", app).code == 2


def test_ps_scale_restart_and_list(admin, app):
    no_build = admin.fails("scale", "web=2", "-a", app)
    assert no_build == "deis: 400 Bad Request: No build associated with this release"
    admin.ok("pull", "example/image:1", "--procfile", "web: serve\\nworker: work", "-a", app)
    result = admin("ps:scale", "web=2", "worker=1", "-a", app)
    assert result.code == 0, result
    assert "Scaling processes (web=2 worker=1)... done" in result.err
    assert f"=== {app} Processes" in result.out
    assert json.loads(admin.ok("info", "--json", "-a", app))["app"]["structure"] == {
        "web": 2,
        "worker": 1,
    }
    assert admin.fails("scale", "nope=1", "-a", app) == (
        "deis: 404 Not Found: Container type nope does not exist in application"
    )
    assert json.loads(admin.ok("ps", "--json", "-a", app)) == {"results": [], "count": 0}
    assert json.loads(admin.ok("ps:restart", "web", "--json", "-a", app)) == []
    assert "Restarting processes... done" in admin("restart", "-a", app).err


def test_run_and_logs_without_scheduler_or_logger(admin, app):
    assert admin.fails("run", "-a", app, "ls", "-la") == (
        "deis: 400 Bad Request: No build associated with this release to run this command"
    )
    admin.ok("pull", "example/image:1", "-a", app)
    # An image release: one-off commands run only in slugs here, the user's mistake to fix.
    assert admin.fails("run", "-a", app, "ls") == (
        "deis: 400 Bad Request: This release runs a Docker image, and this platform runs"
        " one-off commands only in releases built from git pushes"
    )
    expected = f"deis: 500 Internal Server Error: Error accessing logs for {app}"
    assert admin.fails("logs", "-a", app) == expected
    # Following reads the log stream itself: the controller's own lines about the app come,
    # until the controller ends the stream (after 2 s here).
    followed = admin.ok("logs", "-f", "-n", "5", "-a", app)
    assert f"deis[controller]: {admin.username} created" in followed


class FakeController(BaseHTTPRequestHandler):
    """Answers `run` and `logs` as a controller with a scheduler and a logger would."""

    seen: ClassVar[list[tuple[str, str, dict[str, str], bytes]]] = []

    def log_message(self, format, *args):
        pass

    def _record(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.seen.append((self.command, self.path, dict(self.headers.items()), body))
        return body

    def _send(self, status: int, body: bytes, kind: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("DEIS_API_VERSION", "2.2")
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        body = json.loads(self._record())
        answer = {"exit_code": 3, "output": f"ran {body['command']}\n"}
        self._send(200, json.dumps(answer).encode())

    def do_GET(self):
        self._record()
        if self.path.startswith("/v2/apps/quiet/logs"):
            self._send(204, b"")
        elif "follow=true" in self.path:
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("DEIS_API_VERSION", "2.3")
            self.end_headers()
            for number in range(3):  # a stream the server ends; a real one stays open
                self.wfile.write(f"line {number}\n".encode())
                self.wfile.flush()
        else:
            self._send(200, b"web.1: hello\nweb.1: world\n", "text/plain")


@pytest.fixture
def fake(make_deis):
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeController)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    FakeController.seen = []
    deis = make_deis()
    deis.profile.parent.mkdir()
    deis.profile.write_text(
        json.dumps({"controller": f"http://127.0.0.1:{server.server_port}", "token": "t0k"})
    )
    try:
        yield deis
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_run_prints_output_and_exits_with_the_commands_code(fake):
    result = fake("run", "-a", "myapp", "ls", "-la", "/tmp")
    assert result.code == 3
    assert result.out == "ran ls -la /tmp\n"
    assert "API versions do not match" in result.err
    method, path, headers, body = FakeController.seen[-1]
    assert (method, path) == ("POST", "/v2/apps/myapp/run/")
    assert json.loads(body) == {"command": "ls -la /tmp"}
    assert headers["Authorization"] == "token t0k"
    assert headers["Content-Type"] == "application/json"


def test_logs_tail_follow_and_none(fake):
    assert fake.ok("logs", "-a", "myapp", "-n", "2") == "web.1: hello\nweb.1: world\n"
    assert FakeController.seen[-1][1] == "/v2/apps/myapp/logs?log_lines=2"
    assert fake.ok("logs", "-f", "-a", "myapp") == "line 0\nline 1\nline 2\n"
    assert FakeController.seen[-1][1] == "/v2/apps/myapp/logs?follow=true"
    quiet = fake("logs", "-a", "quiet")
    assert quiet.code == 0 and quiet.out == ""
    assert "no log messages" in quiet.err


def _deis(home: Path, *args: str, script: bool = False) -> subprocess.CompletedProcess[str]:
    command = (
        [str(Path(sys.executable).parent / "deis")]
        if script
        else [sys.executable, "-m", "deis_cli.main"]
    )
    env = {**os.environ, "HOME": str(home)}
    env.pop("DEIS_PROFILE", None)
    return subprocess.run(
        [*command, *args], env=env, capture_output=True, text=True, check=False, timeout=30
    )


def test_entry_point_as_a_process(admin, app, tmp_path):
    listed = _deis(admin.home, "apps:list", script=True)
    assert listed.returncode == 0, listed.stderr
    assert app in listed.stdout.splitlines()
    info = _deis(admin.home, "info", "-a", app, "--json")
    assert info.returncode == 0 and json.loads(info.stdout)["app"]["id"] == app
    missing = _deis(admin.home, "info", "-a", "no-such-app-x")
    assert missing.returncode == 1
    assert missing.stderr == "deis: 404 Not Found: No App matches the given query.\n"
    home = tmp_path / "down"
    (home / ".deis").mkdir(parents=True)
    down = f"http://127.0.0.1:{free_port()}"
    (home / ".deis" / "client.json").write_text(json.dumps({"controller": down, "token": "x"}))
    refused = _deis(home, "apps")
    assert refused.returncode == 1
    assert refused.stderr == (f"deis: cannot reach the controller at {down}: connection refused\n")
