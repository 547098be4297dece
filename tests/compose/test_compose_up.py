"""The platform with docker compose, as the README's "With docker compose" section runs it.

`deisctl compose-env`, `docker compose up -d --wait`, `deis register`, a Python app pushed over
SSH, served through the router, its config set, scaled, its logs read, the S3 server killed and
started again with the pushed source and slug still stored, then `docker compose down -v`. It
needs a running Docker engine, a Compose v2 and the images (`scripts/build-images`), and is
skipped without them; it never builds or pulls.

The stack is a compose project of its own (its containers, network and volumes are named after
it), run from a directory of the test's own, so that a developer's `.env`, `.compose/` and stack
are left alone; the standard host ports are used when they are free, others otherwise.
"""

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import httpx
import pytest

from deis_testing.ports import free_port
from deisctl import composing

pytestmark = [pytest.mark.compose, pytest.mark.timeout(1500)]

T = TypeVar("T")

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
IMAGES = (
    "deis/platform:dev",
    "deis/router:dev",
    "deis/builder:dev",
    "deis/postgres:dev",
    "deis/nats:dev",
    "deis/s3:dev",
)
PORTS = {
    "DEIS_API_PORT": 8000,
    "DEIS_SSH_PORT": 2222,
    "DEIS_HTTP_PORT": 8080,
    "DEIS_HTTPS_PORT": 8443,
}
DEIS = [sys.executable, "-m", "deis_cli.main"]

APP = {
    "Procfile": "web: python app.py\n",
    "requirements.txt": "",
    "app.py": """\
import http.server, os

class Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = f"{os.environ.get('GREETING', 'hello')} from {os.environ['WORKFLOW_RELEASE']}\\n"
        self.send_response(200)
        self.end_headers()
        self.wfile.write(body.encode())

http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Hello).serve_forever()
""",
}
"""The README's app: it binds the loopback only, as many apps do."""


def _free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _ports() -> dict[str, int]:
    """The standard host ports when all are free (the README's commands), else free ones."""
    if all(_free(port) for port in PORTS.values()):
        return dict(PORTS)
    return {name: free_port() for name in PORTS}


def _until(check: Callable[[], T], *, seconds: float, what: str) -> T:
    deadline = time.monotonic() + seconds
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not after {seconds:.0f} s")
        time.sleep(0.5)


@dataclass
class Stack:
    """One compose project of the platform."""

    compose: list[str]
    ports: dict[str, int]
    up_seconds: float
    env: dict[str, str]

    def run(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.compose, *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    @property
    def controller(self) -> str:
        return f"http://localhost:{self.ports['DEIS_API_PORT']}"

    def get(self, app: str) -> httpx.Response:
        """GET / of `app` through the router on the host's HTTP port."""
        return httpx.get(
            f"http://127.0.0.1:{self.ports['DEIS_HTTP_PORT']}/",
            headers={"Host": f"{app}.localhost"},
            timeout=10,
        )


def _docker_ready() -> str | None:
    """Why the stack cannot be brought up here, or None."""
    try:
        info = subprocess.run(["docker", "info"], capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "no docker client (Debian: apt-get install docker.io)"
    if info.returncode != 0:
        return "dockerd is not running or not reachable"
    missing = [
        image
        for image in IMAGES
        if subprocess.run(
            ["docker", "image", "inspect", image], capture_output=True, timeout=30, check=False
        ).returncode
        != 0
    ]
    if missing:
        return f"images missing: {', '.join(missing)} (scripts/build-images makes them)"
    return None


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, compose_cli: list[str]) -> Iterator[Stack]:
    """`docker compose up -d --wait` of a project of its own; `down -v` afterwards."""
    reason = _docker_ready()
    if reason is not None:
        pytest.skip(reason)
    project_dir = tmp_path_factory.mktemp("compose")
    composing.write(project_dir)
    ports = _ports()
    project = f"deis-test-{uuid.uuid4().hex[:8]}"
    compose = [
        *compose_cli,
        "--project-name", project,
        "--project-directory", str(project_dir),
        "--file", str(COMPOSE_FILE),
    ]  # fmt: skip
    env = {**os.environ, **{name: str(port) for name, port in ports.items()}}
    started = time.monotonic()
    up = subprocess.run(
        [*compose, "up", "--detach", "--wait", "--no-build", "--pull", "never"],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    running = Stack(compose=compose, ports=ports, up_seconds=time.monotonic() - started, env=env)
    failed = False
    try:
        assert up.returncode == 0, up.stderr + _logs(running)
        sys.stderr.write(f"`docker compose up --wait` took {running.up_seconds:.1f} s\n")
        yield running
    except BaseException:
        failed = True
        raise
    finally:
        if failed:
            sys.stderr.write(_logs(running))
        down = running.run("down", "--volumes", "--timeout", "30")
        label = f"label=com.docker.compose.project={project}"
        volumes = subprocess.run(
            ["docker", "volume", "ls", "--quiet", "--filter", label],
            capture_output=True,
            text=True,
            check=False,
        )
        assert down.returncode == 0, down.stderr
        assert volumes.stdout.split() == []


def _logs(stack: Stack) -> str:
    done = stack.run("logs", "--no-color", "--tail", "60", timeout=120)
    return f"\n==> docker compose logs\n{done.stdout[-20000:]}{done.stderr[-2000:]}"


@dataclass
class Developer:
    """A user of the platform: a home with a `deis` profile and an SSH key."""

    stack: Stack
    home: Path
    username: str = "dev"
    password: str = "s3cret-pw-compose"

    @property
    def env(self) -> dict[str, str]:
        key = self.home / ".ssh" / "id_ed25519"
        ssh = (
            f"ssh -i {key} -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=no"
            " -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR"
        )
        return {
            "PATH": os.environ["PATH"],
            "HOME": str(self.home),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_SSH_COMMAND": ssh,
            "GIT_AUTHOR_NAME": self.username,
            "GIT_AUTHOR_EMAIL": f"{self.username}@example.test",
            "GIT_COMMITTER_NAME": self.username,
            "GIT_COMMITTER_EMAIL": f"{self.username}@example.test",
            "DEIS_BUILDER_URL": f"ssh://git@127.0.0.1:{self.stack.ports['DEIS_SSH_PORT']}",
            "DEIS_ROUTER_URL": f"http://localhost:{self.stack.ports['DEIS_HTTP_PORT']}",
        }

    def run(self, *argv: str, cwd: Path | None = None, timeout: float = 120) -> str:
        done = subprocess.run(
            list(argv),
            cwd=cwd or self.home,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        assert done.returncode == 0, f"{' '.join(argv)}: {done.stderr}{done.stdout}"
        return done.stdout + done.stderr

    def deis(self, *args: str, cwd: Path | None = None, timeout: float = 120) -> str:
        return self.run(*DEIS, *args, cwd=cwd, timeout=timeout)


def test_compose_runs_the_readme_walkthrough(stack, tmp_path):
    developer = Developer(stack=stack, home=tmp_path / "home")
    (developer.home / ".ssh").mkdir(parents=True)
    developer.run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "dev", "-f",
                  str(developer.home / ".ssh" / "id_ed25519"))  # fmt: skip
    developer.deis(
        "register",
        stack.controller,
        f"--username={developer.username}",
        f"--password={developer.password}",
        f"--email={developer.username}@example.test",
        "--login",
    )
    developer.deis("keys:add", str(developer.home / ".ssh" / "id_ed25519.pub"))

    copy = developer.home / "hello"
    copy.mkdir()
    for name, text in APP.items():
        (copy / name).write_text(text)
    developer.run("git", "init", "-q", "-b", "main", cwd=copy)
    developer.run("git", "add", "-A", cwd=copy)
    developer.run("git", "commit", "-qm", "hello", cwd=copy)
    developer.deis("create", "hello", cwd=copy)
    pushed = developer.run("git", "push", "deis", "main", cwd=copy, timeout=600)
    assert f"hello.localhost:{stack.ports['DEIS_HTTP_PORT']}" in pushed

    _until(lambda: stack.get("hello").text == "hello from v2\n", seconds=30, what="the app")

    developer.deis("config:set", "GREETING=hi", cwd=copy, timeout=300)
    _until(lambda: stack.get("hello").text == "hi from v3\n", seconds=60, what="the new config")

    developer.deis("scale", "web=2", cwd=copy, timeout=300)
    _until(
        lambda: developer.deis("ps", cwd=copy).count("hello-web-v") == 2,
        seconds=60,
        what="two web processes",
    )
    for _ in range(4):
        assert stack.get("hello").text == "hi from v3\n"

    # The app's request lines (http.server writes them to stderr), through the logger.
    _until(
        lambda: '"GET / HTTP/1.1" 200' in developer.deis("logs", cwd=copy),
        seconds=60,
        what="the app's request lines in `deis logs`",
    )

    # The S3 server killed and started again: the pushed source and slug are still there, as the
    # platform's store reads them with the credentials of .env (inside the builder's container).
    stored = _stored_objects(stack)
    assert any(key.startswith("slugs/hello/") for key in stored), stored
    assert any(key.startswith("sources/hello/") for key in stored), stored
    started = time.monotonic()
    for args in (
        ["kill", "s3"],
        ["up", "--detach", "--wait", "--no-build", "--pull", "never", "s3"],
    ):
        done = stack.run(*args, timeout=300)
        assert done.returncode == 0, done.stderr
    sys.stderr.write(f"s3 killed and up again in {time.monotonic() - started:.1f} s\n")
    assert _stored_objects(stack) == stored
    assert stack.get("hello").text == "hi from v3\n"


STORED_OBJECTS = """
import asyncio, hashlib, json, os
from deis_shared.objectstore.s3 import S3Store

async def main():
    found = {}
    async with S3Store(
        bucket=os.environ["DEIS_S3_BUCKET"],
        endpoint_url=os.environ["DEIS_S3_ENDPOINT_URL"],
        access_key_id=os.environ["DEIS_S3_ACCESS_KEY_ID"],
        secret_access_key=os.environ["DEIS_S3_SECRET_ACCESS_KEY"],
    ) as store:
        for prefix in ("sources/", "slugs/", "logs/"):
            async for key in store.list(prefix):
                found[key] = hashlib.sha256(await store.get_bytes(key)).hexdigest()
    print(json.dumps(found))

asyncio.run(main())
"""


def _stored_objects(stack: Stack) -> dict[str, str]:
    """Every object of the platform's bucket, by key, with its SHA-256, read by the builder."""
    done = stack.run("exec", "-T", "builder", "python", "-c", STORED_OBJECTS, timeout=120)
    assert done.returncode == 0, done.stderr
    found: dict[str, str] = json.loads(done.stdout)
    return found
