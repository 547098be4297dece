"""Build benchmark: `git push` → slug stored, through the real SSH server, hook and buildpacks.

Run: `uv run python bench/build.py`. Starts its own PostgreSQL and nats-server, a controller and
a builder as processes (filesystem object store), registers a user with an SSH key, and pushes
with the real `git` and `ssh`. For each case it prints the p50 (and min/max) of 5 pushes, each
changing one file, of the time from starting `git push` to the `build.<app>.completed` event,
which the builder publishes once the slug is in the object store:

- python, no dependencies: Procfile + empty requirements.txt;
- python, 3 dependencies, cold: a new app each time, so neither the builder's per-app
  dependency cache nor pip's wheel cache holds anything;
- python, 3 dependencies, warm: the same app again with unchanged requirements (no pip run);
- static site: index.html.

Dependencies are three small wheels made here and served on loopback (`PIP_NO_INDEX`,
`PIP_FIND_LINKS` in `DEIS_BUILD_ENV`: builds run sandboxed, with a private /tmp), so the
figures measure the builder and pip, not the network. Floor, measured in the same run:
`git push` of the same kind of change to a plain bare repository on local disk (no SSH, no
build).

The scheduler is not part of this benchmark: a small responder answers each release with
`deploy.succeeded` so that each push ends.
"""

import asyncio
import base64
import contextlib
import hashlib
import json
import os
import statistics
import subprocess
import tempfile
import time
import zipfile
from pathlib import Path

import httpx
import nats

from deis_shared import wire
from deis_shared.events import (
    build as build_events,
    deploy as deploy_events,
    release as release_events,
)
from deis_testing import (
    NatsServer,
    PostgresServer,
    ServiceProcess,
    fileserver,
    free_port,
    traversable,
)

PUSHES = 5
DEPENDENCIES = ("alpha", "bravo", "charlie")


def make_wheel(directory: Path, name: str) -> None:
    """A minimal pure-Python wheel `name` 1.0 with a little code in it."""
    info = f"{name}-1.0.dist-info"
    files = {
        f"{name}/__init__.py": "VALUE = 1\n" * 200,
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: bench\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n",
    }
    record = [
        f"{path},sha256={base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b'=').decode()},{len(text)}\n"
        for path, text in files.items()
    ]
    files[f"{info}/RECORD"] = "".join(record) + f"{info}/RECORD,,\n"
    with zipfile.ZipFile(directory / f"{name}-1.0-py3-none-any.whl", "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)


def git(*args: str, cwd: Path, env: dict[str, str]) -> None:
    subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)


class Bench:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.completed: dict[str, float] = {}
        self.waiters: dict[str, asyncio.Event] = {}

    async def on_completed(self, msg: object) -> None:
        event = wire.decode(msg.data, build_events.BuildCompleted)  # type: ignore[attr-defined]
        self.completed[event.sha] = time.perf_counter()

    def working_copy(self, name: str, port: int, app: str, env: dict[str, str]) -> Path:
        path = self.root / name
        path.mkdir()
        git("init", "-q", "-b", "main", cwd=path, env=env)
        git("remote", "add", "deis", f"ssh://git@127.0.0.1:{port}/{app}.git", cwd=path, env=env)
        return path

    async def push(self, path: Path, env: dict[str, str], files: dict[str, str]) -> float:
        """Commit `files`, push, and return seconds until the slug of that commit was stored."""
        sha = await asyncio.to_thread(commit, path, env, files)
        started = time.perf_counter()
        process = await asyncio.create_subprocess_exec(
            "git",
            "push",
            "-q",
            "deis",
            "main",
            cwd=path,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await process.communicate()
        if process.returncode != 0 or sha not in self.completed:
            raise RuntimeError(f"push failed: {out.decode(errors='replace')}")
        return self.completed[sha] - started


def commit(path: Path, env: dict[str, str], files: dict[str, str]) -> str:
    """Write `files`, commit them, and return the commit's short sha."""
    for name, text in files.items():
        (path / name).write_text(text)
    git("add", "-A", cwd=path, env=env)
    git("commit", "-q", "-m", "change", cwd=path, env=env)
    return subprocess.run(
        ["git", "rev-parse", "--short=7", "HEAD"],
        cwd=path,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def floor_push(root: Path, env: dict[str, str], n: int) -> float:
    bare, wc = root / f"floor{n}.git", root / f"floor{n}"
    git("init", "-q", "--bare", str(bare), cwd=root, env=env)
    wc.mkdir()
    git("init", "-q", "-b", "main", cwd=wc, env=env)
    (wc / "index.html").write_text("<p>floor</p>\n")
    git("add", "-A", cwd=wc, env=env)
    git("commit", "-q", "-m", "first", cwd=wc, env=env)
    git("push", "-q", str(bare), "main", cwd=wc, env=env)
    (wc / "index.html").write_text(f"<p>floor {n}</p>\n")
    git("commit", "-q", "-am", "change", cwd=wc, env=env)
    started = time.perf_counter()
    git("push", "-q", str(bare), "main", cwd=wc, env=env)
    return time.perf_counter() - started


def summary(name: str, seconds: list[float], floor: float) -> str:
    p50 = statistics.median(seconds)
    return (
        f"{name:<34} p50 {p50:6.3f} s   min {min(seconds):6.3f}   max {max(seconds):6.3f}"
        f"   ({p50 / floor:5.1f}x the floor)"
    )


async def main() -> None:
    # Builds run sandboxed as user ids of their own, which must pass through to the data dir.
    root = traversable(Path(tempfile.mkdtemp(prefix="deis-bench-build-")))
    postgres, nats_server = PostgresServer(), NatsServer()
    postgres.start()
    nats_server.start()
    processes: list[ServiceProcess] = []
    stack = contextlib.ExitStack()
    try:
        wheels = root / "wheels"
        wheels.mkdir()
        for name in DEPENDENCIES:
            make_wheel(wheels, name)
        # Builds run sandboxed, with a private /tmp: the wheels reach them over loopback.
        index = stack.enter_context(fileserver.serving(wheels))
        api_port, ssh_port = free_port(), free_port()
        common = {
            **os.environ,
            "DEIS_DATABASE_URL": postgres.dsn(),
            "DEIS_NATS_URL": nats_server.url,
            "DEIS_LOG_LEVEL": "WARNING",
        }
        controller_env = {
            **common,
            "DEIS_API_PORT": str(api_port),
            "DEIS_PASSWORD_TIME_COST": "1",
            "DEIS_PASSWORD_MEMORY_COST": "8",
        }
        builder_env = {
            **common,
            "DEIS_SSH_HOST": "127.0.0.1",
            "DEIS_SSH_PORT": str(ssh_port),
            "DEIS_DATA_DIR": str(root / "builder"),
            "DEIS_OBJECT_STORE_ROOT": str(root / "objects"),
            "DEIS_BUILD_ENV": json.dumps(
                {"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": index, "PIP_CONFIG_FILE": os.devnull}
            ),
        }
        log = root / "services.log"
        processes.append(
            ServiceProcess("deis_controller.main", env=controller_env, port=api_port, log=log)
        )
        processes.append(
            ServiceProcess("deis_builder.main", env=builder_env, port=ssh_port, log=log)
        )
        for process in processes:
            await asyncio.to_thread(process.start)

        key = root / "id_ed25519"
        keygen = ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)]
        await asyncio.to_thread(subprocess.run, keygen, check=True)
        api = httpx.Client(base_url=f"http://127.0.0.1:{api_port}")
        body = {"username": "bench", "password": "bench-pw-1", "email": "b@x.test"}
        api.post("/v2/auth/register/", json=body).raise_for_status()
        token = api.post("/v2/auth/login/", json=body).json()["token"]
        auth = {"Authorization": f"token {token}"}
        public = key.with_suffix(".pub").read_text()
        api.post(
            "/v2/keys/", json={"id": "bench", "public": public}, headers=auth
        ).raise_for_status()

        def create(app: str) -> str:
            api.post("/v2/apps/", json={"id": app}, headers=auth).raise_for_status()
            return app

        env = {
            "PATH": os.environ["PATH"],
            "HOME": str(root),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_AUTHOR_NAME": "bench",
            "GIT_AUTHOR_EMAIL": "b@x.test",
            "GIT_COMMITTER_NAME": "bench",
            "GIT_COMMITTER_EMAIL": "b@x.test",
            "GIT_SSH_COMMAND": f"ssh -i {key} -o IdentitiesOnly=yes -o BatchMode=yes "
            "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR",
        }
        bench = Bench(root)
        nc = await nats.connect(nats_server.url)

        async def succeed(msg: object) -> None:
            release = wire.decode(msg.data, release_events.ReleaseCreated)  # type: ignore[attr-defined]
            ok = deploy_events.DeploySucceeded(
                app=release.app, version=release.version, duration_seconds=0.0
            )
            await nc.publish(deploy_events.succeeded_subject(release.app), wire.encode(ok))

        await nc.subscribe(build_events.COMPLETED_SUBJECTS, cb=bench.on_completed)
        await nc.subscribe(release_events.CREATED_SUBJECTS, cb=succeed)
        await nc.flush()

        procfile = "web: python -m http.server $PORT\n"
        with_deps = "".join(f"{name}==1.0\n" for name in DEPENDENCIES)
        results: dict[str, list[float]] = {}

        wc = bench.working_copy("plain", ssh_port, create("plain"), env)
        await bench.push(wc, env, {"Procfile": procfile, "requirements.txt": "", "app.py": "0"})
        results["python, no dependencies"] = [
            await bench.push(wc, env, {"app.py": f"# {n}\n"}) for n in range(PUSHES)
        ]
        cold = []
        for n in range(PUSHES):
            app = create(f"cold{n}")
            wc = bench.working_copy(app, ssh_port, app, env)
            files = {"Procfile": procfile, "requirements.txt": with_deps, "app.py": f"# {n}\n"}
            cold.append(await bench.push(wc, env, files))
        results["python, 3 dependencies, cold"] = cold
        results["python, 3 dependencies, warm"] = [
            await bench.push(wc, env, {"app.py": f"# warm {n}\n"}) for n in range(PUSHES)
        ]
        wc = bench.working_copy("static", ssh_port, create("static"), env)
        await bench.push(wc, env, {"index.html": "<p>0</p>\n"})
        results["static site"] = [
            await bench.push(wc, env, {"index.html": f"<p>{n + 1}</p>\n"}) for n in range(PUSHES)
        ]
        floor = statistics.median(floor_push(root, env, n) for n in range(PUSHES))
        await nc.close()

        print(f"git push -> slug stored, {PUSHES} pushes each (p50, min, max)")
        print(f"{'floor: git push to a local bare repo':<34} p50 {floor:6.3f} s")
        for name, seconds in results.items():
            print(summary(name, seconds, floor))
    finally:
        for process in reversed(processes):
            process.stop()
        stack.close()
        nats_server.close()
        postgres.stop()


if __name__ == "__main__":
    asyncio.run(main())
