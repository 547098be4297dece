"""Fixtures: a real controller process (with real Postgres and NATS) and the `deis` CLI.

Each test module gets its own nats-server, database and `deis-controller` process, as the
builder's tests do. The CLI runs in-process through click's `CliRunner`, with `HOME` in the
test's temporary directory, so every test has a profile of its own. There is no scheduler and no
logger: `run`, `logs` and process lists get the controller's answers for that case.
"""

import contextlib
import os
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from deis_cli import main
from deis_testing import NatsServer, controller_process, free_port, unique_name

PASSWORD = "s3cret-pw"


@dataclass
class Controller:
    """A `deis-controller` process and a plain HTTP client for checks behind the CLI's back."""

    url: str
    http: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.http = httpx.Client(base_url=self.url, timeout=10.0)

    def register(self, username: str) -> str:
        """Register `username` over HTTP; their token."""
        body = {"username": username, "password": PASSWORD, "email": f"{username}@x.test"}
        assert self.http.post("/v2/auth/register/", json=body).status_code == 201
        login = self.http.post("/v2/auth/login/", json=body)
        assert login.status_code == 200, login.text
        return str(login.json()["token"])

    def call(self, method: str, path: str, token: str, **kwargs: Any) -> httpx.Response:
        return self.http.request(
            method, path, headers={"Authorization": f"token {token}"}, **kwargs
        )


@pytest.fixture(scope="module")
def controller(
    module_nats_server: NatsServer, module_pg_dsn: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Controller]:
    """The controller as a real process; no user registered yet."""
    process = controller_process(
        dsn=module_pg_dsn,
        nats_url=module_nats_server.url,
        port=free_port(),
        log=tmp_path_factory.mktemp("controller") / "controller.log",
        RPC_TIMEOUT="1",
        RUN_TIMEOUT="1",
        FOLLOW_MAX_SECONDS="2",
    )
    try:
        process.start()
        running = Controller(url=process.url)
        yield running
        running.http.close()
    finally:
        process.stop()


@dataclass(frozen=True)
class Result:
    """A finished `deis` command."""

    code: int
    out: str
    err: str


@dataclass
class Deis:
    """The `deis` command for one user: their own HOME (and so their own profile)."""

    home: Path
    env: dict[str, str | None] = field(default_factory=dict)
    cwd: Path | None = None
    username: str = ""

    def __call__(self, *args: str, input: str | None = None, cwd: Path | None = None) -> Result:
        env = {
            "HOME": str(self.home),
            "DEIS_PROFILE": None,
            "DEIS_BUILDER_URL": None,
            "DEIS_ROUTER_URL": None,
            "DISPLAY": None,
            "WAYLAND_DISPLAY": None,
            "GIT_CONFIG_NOSYSTEM": "1",
            **self.env,
        }
        runner = CliRunner()
        with contextlib.chdir(cwd or self.cwd or self.home):
            result = runner.invoke(main.cli, list(args), input=input, env=env, prog_name="deis")
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return Result(code=result.exit_code, out=result.stdout, err=result.stderr)

    def ok(self, *args: str, **kwargs: Any) -> str:
        """Run a command that must succeed; its stdout."""
        result = self(*args, **kwargs)
        assert result.code == 0, result
        return result.out

    def fails(self, *args: str, **kwargs: Any) -> str:
        """Run a command that must fail with one line on stderr; that line."""
        result = self(*args, **kwargs)
        assert result.code != 0, result
        lines = [line for line in result.err.splitlines() if line.startswith("deis: ")]
        assert len(lines) == 1, result
        assert "Traceback" not in result.err
        return lines[0]

    @property
    def profile(self) -> Path:
        return self.home / ".deis" / "client.json"


@pytest.fixture
def make_deis(tmp_path: Path) -> Callable[[], Deis]:
    """`make_deis()`: a fresh HOME with no profile."""

    def make() -> Deis:
        home = tmp_path / unique_name("home")
        home.mkdir()
        return Deis(home=home)

    return make


@pytest.fixture(scope="module")
def admin_name(controller: Controller) -> str:
    """The module's first user, an admin, registered over HTTP."""
    name = unique_name("admin")
    controller.register(name)
    return name


@pytest.fixture
def login(controller: Controller, make_deis: Callable[[], Deis]) -> Callable[..., Deis]:
    """`login(username)`: a `deis` logged in as that (already registered) user."""

    def make(username: str) -> Deis:
        deis = make_deis()
        deis.ok("login", controller.url, "--username", username, "--password", PASSWORD)
        deis.username = username
        return deis

    return make


@pytest.fixture
def admin(admin_name: str, login: Callable[..., Deis]) -> Deis:
    """`deis` logged in as the module's admin."""
    return login(admin_name)


@pytest.fixture
def user(controller: Controller, login: Callable[..., Deis]) -> Callable[[], Deis]:
    """`user()`: a new non-admin user, logged in."""

    def make() -> Deis:
        name = unique_name("dev")
        controller.register(name)
        return login(name)

    return make


@pytest.fixture
def app_name() -> str:
    """An app name no other test uses."""
    return unique_name("app-")


def git(*args: str, cwd: Path) -> str:
    """Run git in `cwd`; its stdout."""
    done = subprocess.run(
        ["git", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(cwd)},
    )
    return done.stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """An empty git working copy."""
    path = tmp_path / unique_name("wc")
    path.mkdir()
    git("init", "-q", "-b", "main", cwd=path)
    return path


@pytest.fixture
def remote_of() -> Callable[..., str | None]:
    """`remote_of(repo, "deis")`: that remote's URL, None if there is none."""

    def get(path: Path, name: str = "deis") -> str | None:
        names = git("remote", cwd=path).split()
        return git("remote", "get-url", name, cwd=path).strip() if name in names else None

    return get
