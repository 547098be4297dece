"""Fixtures: a real controller process and a real builder, driven with the real git and ssh.

Each test module gets a private nats-server (the builder and the controller need the fixed
topology and the controller's RPC queue group to themselves), a database of its own and one
`deis-controller` process. Each test gets its own builder (in this event loop, on a free SSH
port, with its own data directory), users, keys and apps with unique names.

The scheduler is not part of these tests: where a push must end, `rollouts` publishes the
deploy result for each new release as the scheduler's contract says it would.
"""

import asyncio
import base64
import contextlib
import hashlib
import os
import subprocess
import zipfile
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import nats
import nats.aio.client
import pytest

from deis_builder import service
from deis_builder.service import Builder
from deis_builder.settings import BuilderSettings
from deis_shared import wire
from deis_shared.events import deploy as deploy_events, release as release_events
from deis_testing import (
    NatsServer,
    controller_process,
    fileserver,
    free_port,
    traversable,
    unique_name,
)


@dataclass
class Controller:
    """A `deis-controller` process and a client for its REST API."""

    url: str
    admin: str = ""
    http: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.http = httpx.Client(base_url=self.url, timeout=10.0)

    def call(self, method: str, path: str, token: str, **kwargs: Any) -> httpx.Response:
        return self.http.request(
            method, path, headers={"Authorization": f"token {token}"}, **kwargs
        )

    def register(self, username: str) -> str:
        """Register `username` and return their token."""
        body = {"username": username, "password": "s3cret-pw", "email": f"{username}@x.test"}
        created = self.http.post("/v2/auth/register/", json=body)
        assert created.status_code == 201, created.text
        login = self.http.post("/v2/auth/login/", json=body)
        assert login.status_code == 200, login.text
        return str(login.json()["token"])

    def create_app(self, token: str, app: str) -> None:
        created = self.call("POST", "/v2/apps/", token, json={"id": app})
        assert created.status_code == 201, created.text

    def add_key(self, token: str, public: str) -> None:
        added = self.call(
            "POST", "/v2/keys/", token, json={"id": unique_name("k"), "public": public}
        )
        assert added.status_code == 201, added.text

    def grant(self, token: str, app: str, username: str) -> None:
        granted = self.call("POST", f"/v2/apps/{app}/perms/", token, json={"username": username})
        assert granted.status_code == 201, granted.text

    def builds(self, token: str, app: str) -> list[dict[str, Any]]:
        listed = self.call("GET", f"/v2/apps/{app}/builds/", token)
        assert listed.status_code == 200, listed.text
        return list(listed.json()["results"])


@pytest.fixture(scope="module")
def controller(
    module_nats_server: NatsServer, module_pg_dsn: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Controller]:
    """The controller as a real process, with an admin already registered."""
    process = controller_process(
        dsn=module_pg_dsn,
        nats_url=module_nats_server.url,
        port=free_port(),
        log=tmp_path_factory.mktemp("controller") / "controller.log",
    )
    try:
        process.start()
        running = Controller(url=process.url)
        running.admin = running.register(unique_name("admin"))
        yield running
        running.http.close()
    finally:
        process.stop()


def make_builder_settings(
    *, nats_url: str, dsn: str, data_dir: Path, **overrides: Any
) -> BuilderSettings:
    values: dict[str, Any] = {
        "nats_url": nats_url,
        "database_url": dsn,
        "data_dir": data_dir,
        "object_store": "filesystem",
        "object_store_root": data_dir / "objects",
        "ssh_host": "127.0.0.1",
        "ssh_port": 0,
        "deploy_timeout": 20.0,
        "route_wait": 0.0,  # no router here: the end-to-end tests cover waiting for it
        "shutdown_timeout": 10.0,
        "db_pool_max_size": 5,
    }
    values.update(overrides)
    return BuilderSettings(**values)


@pytest.fixture
def builder_overrides() -> dict[str, Any]:
    """Builder settings a test module overrides (override this fixture)."""
    return {}


@pytest.fixture
async def builder(
    controller: Controller,
    module_nats_server: NatsServer,
    module_pg_dsn: str,
    tmp_path: Path,
    builder_overrides: dict[str, Any],
) -> AsyncIterator[Builder]:
    """A running builder on a free SSH port."""
    settings = make_builder_settings(
        nats_url=module_nats_server.url,
        dsn=module_pg_dsn,
        data_dir=traversable(tmp_path / "builder"),  # build user ids pass through it
        **builder_overrides,
    )
    async with service.running(settings) as running:
        yield running


@pytest.fixture
async def bus(module_nats_server: NatsServer) -> AsyncIterator[nats.aio.client.Client]:
    """A NATS client for the test."""
    client = await nats.connect(module_nats_server.url)
    try:
        yield client
    finally:
        await client.close()


@dataclass
class Rollouts:
    """Publishes each new release's deploy result, as the scheduler would."""

    failing: dict[str, str] = field(default_factory=dict)
    """App -> reason: releases of these apps fail to deploy."""
    released: list[release_events.ReleaseCreated] = field(default_factory=list)
    hold: asyncio.Event | None = None
    """When set, results wait until this event is set (a rollout in progress)."""
    announced: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def wait_for_release(self, count: int, seconds: float = 30.0) -> None:
        """Return once `count` releases were announced."""
        async with asyncio.timeout(seconds), self.announced:
            await self.announced.wait_for(lambda: len(self.released) >= count)


@pytest.fixture
async def rollouts(bus: nats.aio.client.Client) -> AsyncIterator[Rollouts]:
    """Answer each release of a build with `deploy.succeeded` (or `.failed` where asked)."""
    state = Rollouts()

    async def answer(msg: Any) -> None:
        release = wire.decode(msg.data, release_events.ReleaseCreated)
        if release.build_sha is None:
            return  # v1 has nothing to run
        async with state.announced:
            state.released.append(release)
            state.announced.notify_all()
        if state.hold is not None:
            await state.hold.wait()
        event: wire.Message
        if release.app in state.failing:
            event = deploy_events.DeployFailed(
                app=release.app,
                version=release.version,
                reason=state.failing[release.app],
                last_lines=["Traceback (most recent call last):", "ImportError: no app"],
            )
            subject = deploy_events.failed_subject(release.app)
        else:
            event = deploy_events.DeploySucceeded(
                app=release.app, version=release.version, duration_seconds=0.1
            )
            subject = deploy_events.succeeded_subject(release.app)
        await bus.publish(subject, wire.encode(event))

    sub = await bus.subscribe(release_events.CREATED_SUBJECTS, cb=answer)
    await bus.flush()
    try:
        yield state
    finally:
        await sub.unsubscribe()


@dataclass
class Developer:
    """A user with an SSH key pair and a token, pushing from working copies of their own."""

    username: str
    token: str
    key: Path
    home: Path

    def env(self, port: int) -> dict[str, str]:
        """The environment git needs to push over SSH to the builder on `port` as this user."""
        ssh = (
            f"ssh -i {self.key} -p {port} -o IdentitiesOnly=yes -o BatchMode=yes "
            "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=INFO"
        )
        return {
            "PATH": os.environ["PATH"],
            "HOME": str(self.home),
            "GIT_SSH_COMMAND": ssh,
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_AUTHOR_NAME": self.username,
            "GIT_AUTHOR_EMAIL": f"{self.username}@x.test",
            "GIT_COMMITTER_NAME": self.username,
            "GIT_COMMITTER_EMAIL": f"{self.username}@x.test",
            "LANG": "C",
        }


def _keygen(path: Path) -> str:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", path.name, "-f", str(path)],
        check=True,
    )
    return path.with_suffix(".pub").read_text().strip()


@pytest.fixture
def developer(controller: Controller, tmp_path: Path) -> Callable[..., Developer]:
    """Make a registered user with a registered SSH key: `developer()` or `developer(key=False)`."""

    def make(*, key: bool = True) -> Developer:
        username = unique_name("dev")
        home = tmp_path / username
        home.mkdir()
        public = _keygen(home / "id_ed25519")
        token = controller.register(username)
        if key:
            controller.add_key(token, public)
        return Developer(username=username, token=token, key=home / "id_ed25519", home=home)

    return make


@dataclass(frozen=True)
class Result:
    """A finished git command."""

    code: int
    output: str


async def git(*args: str, cwd: Path, env: dict[str, str], seconds: float = 60) -> Result:
    """Run git with `args`, combined output."""
    process = await asyncio.create_subprocess_exec(
        "git",
        *args,
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        out, _ = await asyncio.wait_for(process.communicate(), timeout=seconds)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        raise
    return Result(code=process.returncode or 0, output=out.decode(errors="replace"))


@dataclass
class WorkingCopy:
    """A git working copy with the builder as its `deis` remote."""

    path: Path
    env: dict[str, str]

    async def commit(self, files: dict[str, str], message: str = "change") -> str:
        for name, text in files.items():
            target = self.path / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        assert (await git("add", "-A", cwd=self.path, env=self.env)).code == 0
        committed = await git("commit", "-q", "-m", message, cwd=self.path, env=self.env)
        assert committed.code == 0, committed.output
        head = await git("rev-parse", "HEAD", cwd=self.path, env=self.env)
        return head.output.strip()

    async def push(self, *args: str, branch: str = "main") -> Result:
        return await git("push", "deis", *args, branch, cwd=self.path, env=self.env)


@pytest.fixture
def working_copy(tmp_path: Path) -> Callable[..., Any]:
    """`await working_copy(developer, builder, app)`: a fresh repository pushing to the app."""

    async def make(dev: Developer, builder: Builder, app: str, *, name: str = "") -> WorkingCopy:
        path = tmp_path / (name or unique_name("wc"))
        path.mkdir()
        env = dev.env(builder.ssh.port)
        assert (await git("init", "-q", "-b", "main", cwd=path, env=env)).code == 0
        url = f"ssh://git@127.0.0.1:{builder.ssh.port}/{app}.git"
        assert (await git("remote", "add", "deis", url, cwd=path, env=env)).code == 0
        return WorkingCopy(path=path, env=env)

    return make


@pytest.fixture
def app_name() -> str:
    """An app name no other test uses."""
    return unique_name("app-")


@pytest.fixture
def run_git() -> Callable[..., Any]:
    """`await run_git(*args, cwd=..., env=...)`: git with combined output, as a `Result`."""
    return git


def make_wheel(directory: Path, name: str, version: str, requires: Sequence[str] = ()) -> Path:
    """Write a minimal pure-Python wheel: package `name` whose `hello()` returns its version."""
    dist_info = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": f"def hello():\n    return {f'{name} {version}'!r}\n",
        f"{dist_info}/METADATA": "".join(
            [
                "Metadata-Version: 2.1\n",
                f"Name: {name}\n",
                f"Version: {version}\n",
                *(f"Requires-Dist: {requirement}\n" for requirement in requires),
            ]
        ),
        f"{dist_info}/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: deis-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        record.append(f"{path},sha256={digest.decode()},{len(text.encode())}\n")
    record.append(f"{dist_info}/RECORD,,\n")
    files[f"{dist_info}/RECORD"] = "".join(record)
    directory.mkdir(parents=True, exist_ok=True)
    wheel = directory / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
    return wheel


@pytest.fixture
def wheelhouse(tmp_path: Path) -> Path:
    """The only place pip may find packages."""
    path = tmp_path / "wheels"
    path.mkdir()
    return path


@pytest.fixture
def add_wheel(wheelhouse: Path) -> Callable[..., Path]:
    """`make_wheel` into the wheelhouse: `add_wheel("greet", "1.0", requires=["other"])`."""

    def add(name: str, version: str, requires: Sequence[str] = ()) -> Path:
        return make_wheel(wheelhouse, name, version, requires)

    return add


@pytest.fixture
def wheel_index(wheelhouse: Path) -> Iterator[str]:
    """The wheelhouse served on loopback, as pip's `--find-links`: builds reach it through
    their sandbox's network, as they would a package index."""
    with fileserver.serving(wheelhouse) as url:
        yield url


@pytest.fixture
def own_app(
    controller: Controller,
    developer: Callable[..., Developer],
    working_copy: Callable[..., Any],
    builder: Builder,
    app_name: str,
) -> Callable[..., Any]:
    """`dev, wc = await own_app()`: a developer owning `app_name`, and a copy pushing to it."""

    async def make() -> tuple[Developer, WorkingCopy]:
        dev = developer()
        controller.create_app(dev.token, app_name)
        return dev, await working_copy(dev, builder, app_name)

    return make
