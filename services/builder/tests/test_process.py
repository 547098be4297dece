"""The builder as a real process: SIGTERM exits cleanly, and a crash leaves no push lock."""

import asyncio
import os

import pytest

from deis_testing import ServiceProcess, free_port, traversable

STATIC = {"index.html": "<p>hi</p>\n"}


@pytest.fixture
def builder_process(module_nats_server, module_pg_dsn, controller, tmp_path):
    """Start `python -m deis_builder.main` on a data directory: `start(data_dir, port, **env)`."""
    started: list[ServiceProcess] = []

    def start(data_dir, port, **env):
        traversable(data_dir)  # build user ids pass through it
        environment = {
            **os.environ,
            "DEIS_NATS_URL": module_nats_server.url,
            "DEIS_DATABASE_URL": module_pg_dsn,
            "DEIS_DATA_DIR": str(data_dir),
            "DEIS_OBJECT_STORE_ROOT": str(data_dir / "objects"),
            "DEIS_SSH_HOST": "127.0.0.1",
            "DEIS_SSH_PORT": str(port),
            "DEIS_DEPLOY_TIMEOUT": "30",
            "DEIS_ROUTE_WAIT": "0",
            "DEIS_SHUTDOWN_TIMEOUT": "10",
            **env,
        }
        log = tmp_path / f"builder-{len(started)}.log"
        builder = ServiceProcess("deis_builder.main", env=environment, port=port, log=log)
        started.append(builder)
        builder.start()
        return builder

    yield start
    for builder in started:
        builder.kill()


class _Port:
    def __init__(self, port):
        self.port = port


class _Builder:
    """What `working_copy` needs of a builder: its SSH port."""

    def __init__(self, port):
        self.ssh = _Port(port)


async def test_sigterm_stops_the_builder_with_exit_code_0(builder_process, tmp_path):
    builder = builder_process(tmp_path / "data", free_port())
    assert await asyncio.to_thread(builder.stop, grace=15) == 0  # SIGTERM, then SIGKILL


async def test_a_crashed_builder_leaves_no_lock_and_keeps_its_host_key(
    builder_process, controller, developer, working_copy, rollouts, run_git, app_name, tmp_path
):
    data, port = tmp_path / "data", free_port()
    first = builder_process(data, port)
    host_key = (data / "ssh_host_ed25519_key").read_bytes()
    dev = developer()
    controller.create_app(dev.token, app_name)
    wc = await working_copy(dev, _Builder(port), app_name)
    await wc.commit(STATIC)
    rollouts.hold = asyncio.Event()
    interrupted = asyncio.create_task(wc.push())
    await rollouts.wait_for_release(1)

    await asyncio.to_thread(first.kill)  # SIGKILL while the push holds the app's lock
    assert (await interrupted).code != 0
    rollouts.hold.set()
    builder_process(data, port, DEIS_PUSH_LOCK_WAIT="2")
    await wc.commit({"about.html": "<p>about</p>\n"})
    pushed = await wc.push()

    assert pushed.code == 0, pushed.output
    assert "in progress" not in pushed.output
    assert f"done, {app_name} v3" in pushed.output
    assert (data / "ssh_host_ed25519_key").read_bytes() == host_key
