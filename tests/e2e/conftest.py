"""The platform as a user meets it: `deisctl up` on a data dir of its own, the `deis` CLI, `git`
over SSH and HTTP through nginx.

One platform per test module (starting it takes a few seconds); each test uses users and apps
of its own. `deisctl down` at the end must leave no app process behind.
"""

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import httpx
import pytest

from deis_testing import free_port, unique_name
from deis_testing.pebble import PebbleServer

T = TypeVar("T")

GREETER = """\
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = (os.environ.get("GREETING", "hello") + " from " + os.environ["WORKFLOW_RELEASE"]
                + "\\n").encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
"""
"""The web process of the test apps: `$GREETING from v<n>` (`hello` by default) on `$PORT`."""

PYTHON_APP = {
    "Procfile": "web: python app.py\nworker: python worker.py\n",
    "requirements.txt": "",
    "app.py": "import http.server, os\n\n" + GREETER,
    "worker.py": """\
import itertools, time
for n in itertools.count():
    print(f"worker tick {n}", flush=True)
    time.sleep(0.5)
""",
}
"""A Python app (`hello from v<n>`, or `$GREETING from v<n>`) with a worker that ticks."""

DEISCTL = [sys.executable, "-m", "deisctl.main"]
DEIS = [sys.executable, "-m", "deis_cli.main"]


@dataclass(frozen=True)
class Platform:
    """A platform started by `deisctl up -d`."""

    data_dir: Path
    api_port: int
    ssh_port: int
    http_port: int
    https_port: int

    @property
    def controller(self) -> str:
        """The controller's URL."""
        return f"http://localhost:{self.api_port}"

    def get(self, app: str, path: str = "/", **kwargs: object) -> httpx.Response:
        """GET `path` of `app` through nginx, by its default domain."""
        return httpx.get(
            f"http://127.0.0.1:{self.http_port}{path}",
            headers={"Host": f"{app}.localhost"},
            **{"timeout": 10, **kwargs},  # type: ignore[arg-type]
        )


def ctl(*args: str, data_dir: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run `deisctl <args> --data-dir <data_dir>`."""
    return subprocess.run(
        [*DEISCTL, *args, "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def app_processes(data_dir: Path) -> list[int]:
    """Processes of apps: their sandboxes mount a release under `data_dir` at `/app`."""
    found = []
    apps = str(data_dir / "scheduler" / "apps") + "/"
    # As mountinfo shows a bind mount's source: relative to its file system, /tmp's maybe.
    source = f"/{data_dir.parent.name}/{data_dir.name}/scheduler/apps/"
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                mounts = [line.split() for line in (entry / "mountinfo").read_text().splitlines()]
                cwd = os.path.realpath(entry / "cwd")
            except OSError:
                continue
            if cwd.startswith(apps) or any(m[4] == "/app" and source in m[3] for m in mounts):
                found.append(int(entry.name))
    return found


def new_platform() -> Platform:
    """Free ports and a data dir for a platform not started yet (`started_platform`)."""
    # Under /tmp, 0755: PostgreSQL and the apps' user must reach it when the tests run as root.
    data_dir = Path(tempfile.mkdtemp(prefix="deis-e2e-", dir="/tmp"))
    data_dir.chmod(0o755)
    return Platform(
        data_dir=data_dir / "data",
        api_port=free_port(),
        ssh_port=free_port(),
        http_port=free_port(),
        https_port=free_port(),
    )


@pytest.fixture(scope="module")
def platform(request: pytest.FixtureRequest) -> Iterator[Platform]:
    """`deisctl up -d` on free ports; `deisctl down` afterwards.

    A module that needs a service's setting changed says so in `DEISCTL_SETS`, a tuple of
    `deisctl up --set` arguments (`("controller.rollout_wait=20",)`): its platform alone has it.
    """
    sets: tuple[str, ...] = getattr(request.module, "DEISCTL_SETS", ())
    with started_platform(new_platform(), sets=sets) as running:
        yield running


@contextlib.contextmanager
def started_platform(
    running: Platform, *, sets: tuple[str, ...] = (), options: tuple[str, ...] = ()
) -> Iterator[Platform]:
    """`deisctl up -d` of `running` (with `--set` each of `sets`, and `options`); `deisctl
    down` afterwards, which must leave no app process and no refused NATS subject."""
    data_dir = running.data_dir.parent
    started = ctl(
        "up",
        "-d",
        "--api-port", str(running.api_port),
        "--ssh-port", str(running.ssh_port),
        "--http-port", str(running.http_port),
        "--https-port", str(running.https_port),
        *(arg for setting in sets for arg in ("--set", setting)),
        *options,
        data_dir=running.data_dir,
    )  # fmt: skip
    try:
        assert started.returncode == 0, started.stderr + started.stdout
        yield running
    finally:
        stopped = ctl("down", data_dir=running.data_dir)
        leftovers = app_processes(running.data_dir)
        logs = running.data_dir / "logs"
        report = "".join(
            f"==> {log.name}\n{log.read_text(errors='replace')[-3000:]}\n"
            for log in (sorted(logs.glob("*.log")) if logs.is_dir() else [])
        )
        # A service refused a subject its NATS user lacks: the permission table missed a use.
        refused = [
            line
            for log in (sorted(logs.glob("*.log")) if logs.is_dir() else [])
            if log.name != "nats.log"
            for line in log.read_text(errors="replace").splitlines()
            if "permissions violation" in line.lower()
        ]
        shutil.rmtree(data_dir, ignore_errors=True)
        assert stopped.returncode == 0, stopped.stderr + report
        assert leftovers == [], report
        assert refused == [], "\n".join(refused[:20])


@dataclass
class Developer:
    """One user of the platform: a home with a `deis` profile, an SSH key, git identity."""

    platform: Platform
    home: Path
    username: str = field(default_factory=lambda: unique_name("dev"))
    password: str = "s3cret-pw-e2e"

    @property
    def key(self) -> Path:
        """The private key pushes use."""
        return self.home / ".ssh" / "id_ed25519"

    @property
    def env(self) -> dict[str, str]:
        """What `deis` and `git` run with."""
        ssh = (
            f"ssh -i {self.key} -o IdentitiesOnly=yes -o BatchMode=yes"
            " -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR"
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
            "DEIS_BUILDER_URL": f"ssh://git@127.0.0.1:{self.platform.ssh_port}",
            "DEIS_ROUTER_URL": f"http://localhost:{self.platform.http_port}",
        }

    def deis(
        self, *args: str, cwd: Path | None = None, check: bool = True, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        """Run `deis <args>`; by default it must succeed."""
        done = subprocess.run(
            [*DEIS, *args],
            cwd=cwd or self.home,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check:
            assert done.returncode == 0, f"deis {' '.join(args)}: {done.stderr}{done.stdout}"
        return done

    def follow(self, *args: str, until_line: Callable[[str], bool], seconds: float = 60) -> str:
        """Run `deis <args>` (a follow) until a line satisfies `until_line`; that line."""
        with subprocess.Popen(
            [*DEIS, *args],
            cwd=self.home,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        ) as process:
            timer = threading.Timer(seconds, process.kill)
            timer.start()
            try:
                assert process.stdout is not None
                for line in process.stdout:
                    if until_line(line):
                        return line
            finally:
                timer.cancel()
                process.kill()
        raise AssertionError(f"deis {' '.join(args)} ended without the line looked for")

    def git(self, *args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        """Run `git <args>` in `cwd`."""
        return subprocess.run(
            ["git", *args],
            cwd=cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def sign_up(self) -> "Developer":
        """Register, log in, add an SSH key."""
        (self.home / ".ssh").mkdir(parents=True, exist_ok=True)
        # `keys:add` names a key by its comment, and key names are global (as in Deis).
        keygen = ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", self.username]
        keygen += ["-f", str(self.key)]
        subprocess.run(keygen, check=True)
        self.deis(
            "register",
            self.platform.controller,
            f"--username={self.username}",
            f"--password={self.password}",
            f"--email={self.username}@example.test",
            "--login",
        )
        self.deis("keys:add", str(self.key.with_suffix(".pub")))
        return self

    def checkout(self, app: str, files: dict[str, str]) -> Path:
        """A git working copy with `files` committed, its `deis` remote made by `deis create`."""
        copy = self.home / app
        for name, text in files.items():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            (copy / name).write_text(text)
        assert self.git("init", "-q", "-b", "main", cwd=copy).returncode == 0
        assert self.git("add", "-A", cwd=copy).returncode == 0
        assert self.git("commit", "-qm", "first", cwd=copy).returncode == 0
        return copy

    def push(self, copy: Path) -> subprocess.CompletedProcess[str]:
        """`git push deis main`; must succeed."""
        pushed = self.git("push", "deis", "main", cwd=copy)
        assert pushed.returncode == 0, pushed.stderr
        return pushed

    def commit(self, copy: Path, name: str, text: str) -> None:
        """Change one file and commit it."""
        (copy / name).write_text(text)
        assert self.git("commit", "-qam", f"change {name}", cwd=copy).returncode == 0


@pytest.fixture
def new_developer(platform: Platform, tmp_path: Path) -> Callable[[str], Developer]:
    """`new_developer(name)`: another registered user with a key, at home in `tmp_path/name`."""
    return lambda name: Developer(platform=platform, home=tmp_path / name).sign_up()


@pytest.fixture
def developer(new_developer: Callable[[str], Developer]) -> Developer:
    """A registered user with a key."""
    return new_developer("home")


@pytest.fixture(scope="module")
def acme_platform() -> Iterator[tuple[PebbleServer, Platform]]:
    """Pebble validating for real, its HTTP-01 port the router's, and a platform issuing from
    it (`deisctl up --acme-directory ... --acme-ca-bundle ...`, passes every 2 s)."""
    running = new_platform()
    pebble = PebbleServer(always_valid=False, http_port=running.http_port)
    pebble.start()
    try:
        options = ("--acme-directory", pebble.directory, "--acme-ca-bundle", pebble.ca_bundle)
        sets = ("controller.acme_interval=2", "controller.acme_backoff_min=2")
        with started_platform(running, sets=sets, options=options):
            yield pebble, running
    finally:
        pebble.close()


@pytest.fixture
def acme_developer(acme_platform: tuple[PebbleServer, Platform], tmp_path: Path) -> Developer:
    """A registered user of `acme_platform`'s platform."""
    return Developer(platform=acme_platform[1], home=tmp_path / "home").sign_up()


def _until(check: Callable[[], T], seconds: float = 60.0) -> T:
    deadline = time.monotonic() + seconds
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not true after {seconds} s: {check}")
        time.sleep(0.1)


@pytest.fixture
def deisctl() -> Callable[..., subprocess.CompletedProcess[str]]:
    """`deisctl(*args, data_dir=...)`: run `deisctl`."""
    return ctl


@pytest.fixture
def until() -> Callable[..., object]:
    """`until(check, seconds=60)`: poll `check()` until it returns something truthy."""
    return _until


@pytest.fixture
def python_app() -> dict[str, str]:
    """The files of `PYTHON_APP`: `web` answers `hello from v<n>`, `worker` ticks."""
    return dict(PYTHON_APP)


MOODY_APP = {
    "Procfile": "web: python app.py\n",
    "requirements.txt": "",
    "app.py": """\
import http.server, os, sys, time

if os.environ.get("CRASH"):
    print("refusing to start: CRASH is set", flush=True)
    sys.exit(3)
time.sleep(float(os.environ.get("SLOW", "0")))

"""
    + GREETER,
}
"""`$GREETING from v<n>` (`hello` by default); exits 3 when `$CRASH` is set, listens only after
sleeping `$SLOW` seconds: an app whose config decides how its rollout goes."""


@pytest.fixture
def moody_app() -> dict[str, str]:
    """The files of `MOODY_APP`."""
    return dict(MOODY_APP)
