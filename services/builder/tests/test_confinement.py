"""Hostile builds, pushed through the real builder: the app's install step tries to escape.

The app's own install code (a Node `preinstall`/`postinstall` script, a Python `setup.py`
built from a local path by pip) runs `hostile.sh`, which tries to read the builder's data dir,
its SSH host key and repositories, another app's cache and the builder's environment, to
write outside its tree, cache and `/tmp`, and to kill processes outside, one of them running
as the build's own user id; the postinstall script also leaves symlinks for the builder to
follow. The script says `BLOCKED: <what>` or `ESCAPED: <what>` for each attempt, and the test
checks the same from the host: files untouched, canaries alive, nothing copied.
"""

import json
import os
import shlex
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from deis_builder.buildpacks import sandboxing
from deis_testing import traversable

CANARY = f"canary-{uuid.uuid4().hex}"
"""A secret in the builder's environment: it must reach no build."""

ATTEMPTS = (
    "list the builder's data dir",
    "read a world-readable file in the data dir",
    "read the SSH host key",
    "list the repositories",
    "read another app's cache",
    "read the builder's environment",
    "find the platform's variables in its own environment",
    "signal the builder",
    "write in the data dir",
    "write in a world-writable dir outside",
    "write in /usr",
    "write in /etc",
    "kill a root process",
    "kill a process of its own user id outside",
)


@pytest.fixture
def builder_overrides(monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    """The builder starts with the platform's secrets in its environment, as under deisctl."""
    monkeypatch.setenv("DEIS_SECRET_CANARY", CANARY)
    monkeypatch.setenv("DATABASE_URL", f"postgresql://builder:{CANARY}@127.0.0.1/deis")
    monkeypatch.setenv("NATS_URL", f"nats://builder:{CANARY}@127.0.0.1:4222")
    return {"build_env": {"npm_config_offline": "true"}}


@pytest.fixture
def canaries(builder, app_name: str) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Processes outside the build: one as root, one as the app's build user id (when root)."""
    started = [subprocess.Popen(["sleep", "600"])]
    if builder.ctx.uids is not None:
        uid = builder.ctx.uids.uid(app_name)
        started.append(subprocess.Popen(["sleep", "600"], user=uid, group=uid, extra_groups=[]))
    yield started
    for process in started:
        process.kill()
        process.wait()


def _hostile_script(*, data: Path, other_cache: Path, outside: Path, pids: list[int]) -> str:
    attempts = {
        # The sandbox has directories on that path, made for its mounts, but not the host's.
        "list the builder's data dir": f"ls -A {data} | grep -x readable",
        "read a world-readable file in the data dir": f"cat {data}/readable",
        "read the SSH host key": f"cat {data}/ssh_host_ed25519_key",
        "list the repositories": f"ls -A {data}/repos",
        "read another app's cache": f"cat {other_cache}/secret",
        "read the builder's environment": (
            f"cat /proc/{os.getpid()}/environ /proc/1/environ | tr '\\0' '\\n' | grep -a {CANARY}"
        ),
        "find the platform's variables in its own environment": (
            "env | grep -E '^(DEIS_|DATABASE_URL|NATS_URL)|" + CANARY + "'"
        ),
        "signal the builder": f"kill -0 {os.getpid()}",
        "write in the data dir": f"touch {data}/shared/escaped",
        "write in a world-writable dir outside": f"touch {outside}/escaped",
        "write in /usr": "touch /usr/escaped",
        "write in /etc": "touch /etc/escaped",
        "kill a root process": f"kill -9 {pids[0]}",
        "kill a process of its own user id outside": f"kill -9 {pids[-1]}",
    }
    assert tuple(attempts) == ATTEMPTS
    lines = ["echo WHO: $(id -u) $(hostname)"]
    for what, command in attempts.items():
        lines.append(
            f"if ( {command} ) >/dev/null 2>&1; then echo {shlex.quote('ESCAPED: ' + what)};"
            f" else echo {shlex.quote('BLOCKED: ' + what)}; fi"
        )
    lines.append(f"touch /tmp/{CANARY} && echo WROTE: its private /tmp")
    return "\n".join(lines) + "\n"


def _node_app(script: str, *, data: Path, outside: Path) -> dict[str, str]:
    # After the install, leave links for the builder to follow: `.deis` where it writes the
    # slug's metadata, `node_modules` (which it caches) into the data dir.
    plant = f"rm -rf node_modules && ln -s {data} node_modules && ln -s {outside} .deis"
    package = {
        "name": "hostile",
        "version": "1.0.0",
        "dependencies": {"greet": "file:vendor/greet"},
        "scripts": {"preinstall": "sh hostile.sh", "postinstall": plant},
    }
    return {
        "package.json": json.dumps(package),
        "vendor/greet/package.json": json.dumps({"name": "greet", "version": "1.0.0"}),
        "vendor/greet/index.js": "exports.hello = () => 'hi';\n",
        "hostile.sh": script,
    }


def _python_app(script: str) -> dict[str, str]:
    # pip shows a build's output when it fails: the setup script reports, then fails.
    setup = (
        "import os, subprocess, sys\n"
        "here = os.path.dirname(os.path.abspath(__file__))\n"
        "subprocess.run(['sh', os.path.join(here, 'hostile.sh')], check=False)\n"
        "sys.exit(1)\n"
    )
    return {
        "requirements.txt": "./evil\n",
        "Procfile": "web: python -m http.server $PORT\n",
        "evil/setup.py": setup,
        "evil/hostile.sh": script,
    }


@pytest.mark.integration
@pytest.mark.timeout(120)
@pytest.mark.skipif(sys.platform != "linux", reason="builds run in Linux namespaces")
@pytest.mark.parametrize("kind", ["node", "python"])
async def test_a_hostile_build_escapes_nowhere(
    kind, own_app, builder, rollouts, canaries, app_name, tmp_path
):
    # Open to any user id on the host: only the sandbox keeps the build out of them.
    data = builder.ctx.settings.data_dir
    (data / "readable").write_text(CANARY)
    (data / "readable").chmod(0o644)
    (data / "shared").mkdir()
    (data / "shared").chmod(0o777)
    other_cache = data / "cache" / "another-app"
    other_cache.mkdir(mode=0o755, parents=True)
    (other_cache / "secret").write_text(CANARY)
    (other_cache / "secret").chmod(0o644)
    outside = traversable(tmp_path / "outside")
    outside.chmod(0o777)
    script = _hostile_script(
        data=data,
        other_cache=other_cache,
        outside=outside,
        pids=[process.pid for process in canaries],
    )
    files = _node_app(script, data=data, outside=outside) if kind == "node" else _python_app(script)
    _, wc = await own_app()
    await wc.commit(files)

    pushed = await wc.push()

    said = pushed.output
    for what in ATTEMPTS:
        assert f"BLOCKED: {what}" in said, said
    assert "ESCAPED" not in said
    assert CANARY not in said
    assert "WROTE: its private /tmp" in said
    if builder.ctx.uids is not None:
        uid = builder.ctx.uids.uid(app_name)
        assert f"WHO: {uid} {app_name}" in said
        assert uid >= builder.ctx.settings.build_uid_first
    else:
        assert f"WHO: {os.geteuid()} {app_name}" in said
    # The host's side of it: canaries alive, nothing written or copied.
    assert all(process.poll() is None for process in canaries)
    assert list((data / "shared").iterdir()) == []
    assert list(outside.iterdir()) == []
    assert not Path("/usr/escaped").exists()
    assert not Path("/etc/escaped").exists()
    assert not Path("/tmp", CANARY).exists()
    assert (other_cache / "secret").read_text() == CANARY
    cache = data / "cache" / app_name
    copied = [path.name for path in cache.rglob("*")]
    assert "ssh_host_ed25519_key" not in copied
    assert "readable" not in copied
    if kind == "node":
        assert pushed.code == 0, said  # links left behind break nothing of the builder's
    else:
        assert pushed.code != 0
        assert "pip install exited with code 1" in said


async def test_builds_get_nothing_of_the_builders_environment(builder) -> None:
    env = sandboxing.environment(builder.ctx.build_env, home=Path("/build/home"))
    assert CANARY not in json.dumps(env)
    assert set(env) <= {"PATH", "HOME", "LANG", "LC_ALL", "TZ", "npm_config_offline"}
