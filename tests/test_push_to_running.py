"""Across services: `git push` through the builder ends with the app running under the scheduler.

The controller, the builder and the scheduler run as real processes on one PostgreSQL and one
nats-server; a user registers, adds a key, creates apps and pushes a Python, a static and a
Node app with the real `git` and `ssh`. Each push must end with `done, <app> v2`, and the
process the scheduler started must answer on the endpoint it published. This is what ties the
builder's slug format (`.deis/slug.json`, Procfiles, default process types) to the scheduler's
reading of it. The router and the logger are not part of it yet (issue 8 extends it to nginx).
"""

import asyncio
import json
import os
import shutil
import subprocess
from pathlib import Path

import httpx
import nats
import pytest

from deis_shared import wire
from deis_shared.kv import endpoints as endpoints_kv
from deis_testing import ServiceProcess, free_port, traversable

APPS = {
    "pyapp": (
        {
            "Procfile": "web: python app.py\n",
            "requirements.txt": "",
            "app.py": "import http.server, os\n"
            "os.chdir('public')\n"
            "http.server.test(HandlerClass=http.server.SimpleHTTPRequestHandler,"
            " port=int(os.environ['PORT']), bind='127.0.0.1')\n",
            "public/index.html": "<p>python</p>\n",
        },
        "<p>python</p>\n",
    ),
    "static": ({"index.html": "<p>static</p>\n"}, "<p>static</p>\n"),
    "nodeapp": (
        {
            "package.json": json.dumps({"name": "n", "scripts": {"start": "node index.js"}}),
            "index.js": "require('http').createServer((q, s) => s.end('node\\n'))"
            ".listen(process.env.PORT)\n",
        },
        "node\n",
    ),
}


def _git(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True)


@pytest.fixture
def platform(pg_dsn, nats_server_factory, tmp_path):
    """Controller, builder and scheduler processes; yields (api port, ssh port, nats url)."""
    nats_server = nats_server_factory()
    api, ssh, health = free_port(), free_port(), free_port()
    common = {
        **os.environ,
        "DEIS_DATABASE_URL": pg_dsn,
        "DEIS_NATS_URL": nats_server.url,
        "DEIS_OBJECT_STORE_ROOT": str(tmp_path / "objects"),
        "DEIS_SHUTDOWN_TIMEOUT": "10",
    }
    services = [
        ServiceProcess(
            "deis_controller.main",
            env={
                **common,
                "DEIS_API_PORT": str(api),
                "DEIS_PASSWORD_TIME_COST": "1",
                "DEIS_PASSWORD_MEMORY_COST": "8",
            },
            port=api,
            log=tmp_path / "controller.log",
        ),
        ServiceProcess(
            "deis_builder.main",
            env={
                **common,
                "DEIS_SSH_HOST": "127.0.0.1",
                "DEIS_SSH_PORT": str(ssh),
                "DEIS_DATA_DIR": str(tmp_path / "builder"),
                "DEIS_DEPLOY_TIMEOUT": "60",
                "DEIS_ROUTE_WAIT": "0",  # no router here
            },
            port=ssh,
            log=tmp_path / "builder.log",
        ),
        ServiceProcess(
            "deis_scheduler.main",
            env={
                **common,
                "DEIS_HEALTH_PORT": str(health),
                "DEIS_DATA_DIR": str(traversable(tmp_path / "scheduler")),
                "DEIS_STOP_PROCESSES_ON_EXIT": "true",
            },
            port=health,
            log=tmp_path / "scheduler.log",
        ),
    ]
    try:
        for service in services:
            service.start()
        yield api, ssh, nats_server.url
    finally:
        for service in reversed(services):
            service.stop()


@pytest.mark.timeout(180)
async def test_pushed_apps_end_up_running(platform, tmp_path):
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed")
    api_port, ssh_port, nats_url = platform
    key = tmp_path / "id_ed25519"
    keygen = ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)]
    await asyncio.to_thread(subprocess.run, keygen, check=True)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{api_port}") as api:
        user = {"username": "dev", "password": "s3cret-pw", "email": "dev@x.test"}
        assert (await api.post("/v2/auth/register/", json=user)).status_code == 201
        token = (await api.post("/v2/auth/login/", json=user)).json()["token"]
        auth = {"Authorization": f"token {token}"}
        added = await api.post(
            "/v2/keys/",
            json={"id": "dev", "public": key.with_suffix(".pub").read_text()},
            headers=auth,
        )
        assert added.status_code == 201, added.text
        for app in APPS:
            assert (await api.post("/v2/apps/", json={"id": app}, headers=auth)).status_code == 201
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_SSH_COMMAND": f"ssh -i {key} -o IdentitiesOnly=yes -o BatchMode=yes "
        "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR",
        "GIT_AUTHOR_NAME": "dev",
        "GIT_AUTHOR_EMAIL": "dev@x.test",
        "GIT_COMMITTER_NAME": "dev",
        "GIT_COMMITTER_EMAIL": "dev@x.test",
    }
    nc = await nats.connect(nats_url)
    try:
        endpoints = await nc.jetstream().key_value(endpoints_kv.BUCKET)
        for app, (files, answer) in APPS.items():
            copy = tmp_path / app
            for name, text in files.items():
                (copy / name).parent.mkdir(parents=True, exist_ok=True)
                (copy / name).write_text(text)
            url = f"ssh://git@127.0.0.1:{ssh_port}/{app}.git"
            for args in (
                ("init", "-q", "-b", "main"),
                ("add", "-A"),
                ("commit", "-qm", "first"),
                ("remote", "add", "deis", url),
            ):
                assert (await asyncio.to_thread(_git, *args, cwd=copy, env=env)).returncode == 0

            pushed = await asyncio.to_thread(_git, "push", "deis", "main", cwd=copy, env=env)

            assert pushed.returncode == 0, pushed.stderr
            assert f"done, {app} v2" in pushed.stderr
            value = wire.decode((await endpoints.get(app)).value or b"", endpoints_kv.Endpoints)
            assert value.version == 2
            (upstream,) = value.upstreams
            async with httpx.AsyncClient() as http:
                served = await http.get(f"http://{upstream.host}:{upstream.port}/")
            assert served.text == answer
    finally:
        await nc.close()
