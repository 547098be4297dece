"""What the platform benchmarks share: a tiny web app, free ports, commands, git's env."""

import contextlib
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

APP = """\
import http.server, os
TEXT = {text!r}
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = TEXT.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed: {done.stderr}{done.stdout}")
    return done.stdout + done.stderr


def git_env(home: Path, key: Path) -> dict[str, str]:
    ssh = (
        f"ssh -i {key} -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=no"
        " -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR"
    )
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_SSH_COMMAND": ssh,
        "GIT_AUTHOR_NAME": "bench",
        "GIT_AUTHOR_EMAIL": "bench@example.test",
        "GIT_COMMITTER_NAME": "bench",
        "GIT_COMMITTER_EMAIL": "bench@example.test",
    }


@dataclass(frozen=True)
class Pushed:
    """A platform started by `deisctl up -d` with the app `bench` pushed once."""

    data: Path
    api: int
    http: int
    copy: Path
    """The app's git working copy."""
    env: dict[str, str]
    """What `git` runs with (the user's SSH key)."""
    remote: str


@contextlib.contextmanager
def pushed_app(work: Path) -> Iterator[Pushed]:
    """`deisctl up -d` on free ports under `work`, a user, a key, the app `bench` pushed once
    (the first build, a warm-up); `deisctl down` afterwards."""
    data = work / "data"
    api, ssh, http_port, https = free_port(), free_port(), free_port(), free_port()
    ctl = [sys.executable, "-m", "deisctl.main"]
    ports = {"--api-port": api, "--ssh-port": ssh, "--http-port": http_port, "--https-port": https}
    run(*ctl, "up", "-d", "--data-dir", str(data), *(f"{k}={v}" for k, v in ports.items()))
    try:
        home = work / "home"
        key = home / "id_ed25519"
        home.mkdir()
        run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key))
        user = {"username": "bench", "password": "bench-pw-123", "email": "b@example.test"}
        with httpx.Client(base_url=f"http://127.0.0.1:{api}", timeout=30) as client:
            client.post("/v2/auth/register/", json=user).raise_for_status()
            token = client.post("/v2/auth/login/", json=user).json()["token"]
            auth = {"Authorization": f"token {token}"}
            public = key.with_suffix(".pub").read_text()
            client.post("/v2/keys/", json={"id": "bench", "public": public}, headers=auth)
            client.post("/v2/apps/", json={"id": "bench"}, headers=auth).raise_for_status()
        env = git_env(home, key)
        copy = home / "bench"
        copy.mkdir()
        (copy / "Procfile").write_text("web: python app.py\n")
        (copy / "requirements.txt").write_text("")
        (copy / "app.py").write_text(APP.format(text="first\n"))
        run("git", "init", "-q", "-b", "main", cwd=copy, env=env)
        run("git", "add", "-A", cwd=copy, env=env)
        run("git", "commit", "-qm", "first", cwd=copy, env=env)
        remote = f"ssh://git@127.0.0.1:{ssh}/bench.git"
        run("git", "push", "-q", remote, "main", cwd=copy, env=env)
        yield Pushed(data=data, api=api, http=http_port, copy=copy, env=env, remote=remote)
    finally:
        run(*ctl, "down", "--data-dir", str(data))
