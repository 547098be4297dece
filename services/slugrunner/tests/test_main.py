"""`deis-slugrunner` as the pod runs it: a process of its own, the real fetch, unpack and exec."""

import asyncio
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from deis_shared.objectstore.s3 import S3Store

MakeSlug = Callable[..., bytes]
KEY = "slugs/hello/abc1234.tar.gz"
RUNNER = [sys.executable, "-m", "deis_slugrunner.main"]


@dataclass(frozen=True)
class Ran:
    code: int
    out: str
    err: str


async def run(*args: str, env: dict[str, str]) -> Ran:
    process = await asyncio.create_subprocess_exec(
        *RUNNER, *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode is not None
    return Ran(code=process.returncode, out=out.decode(), err=err.decode())


@pytest.fixture
def pod_dir() -> Iterator[Path]:
    """A directory that the app's user (1000, when the tests run as root) can reach."""
    with tempfile.TemporaryDirectory(prefix="slugrunner-") as name:
        Path(name).chmod(0o755)
        yield Path(name)


@pytest.fixture
def pod_env(pod_dir: Path, store_env: dict[str, str]) -> dict[str, str]:
    scratch = pod_dir / "scratch"
    scratch.mkdir()
    return {
        "PATH": os.defpath,
        "DEIS_APP_DIR": str(pod_dir / "app"),
        "DEIS_SCRATCH_DIR": str(scratch),
        "DEIS_SLUG_KEY": KEY,
        "DEIS_LOG_JSON": "false",
        "DEIS_FETCH_ATTEMPTS": "1",
        "PORT": "5000",
        "GREETING": "hi",
        **store_env,
    }


async def test_start_becomes_the_apps_command(
    store: S3Store, make_slug: MakeSlug, pod_env: dict[str, str], pod_dir: Path
) -> None:
    slug = make_slug(
        {"bin/greet": '#!/bin/sh\necho "$GREETING from $PWD"\n'},
        metadata={"env": {"PATH": "$HOME/bin:$PATH"}},
    )
    await store.put_bytes(key=KEY, data=slug)
    command = "chmod +x bin/greet; greet; id -u; env | grep -c ^DEIS_S3_; exit 3"
    process = await run("start", "web", env={**pod_env, "DEIS_COMMAND": command})
    assert process.code == 3, process.err
    greeting, uid, secrets = process.out.split("\n")[:3]
    assert greeting == f"hi from {pod_dir / 'app'}"
    assert uid == ("1000" if os.geteuid() == 0 else str(os.getuid()))
    assert secrets == "0"
    assert "starting web: chmod +x bin/greet" in process.err
    assert (await run("health", env={**pod_env, "PORT": ""})).code == 0


async def test_start_without_the_slug_exits_1_with_one_line(
    store: S3Store, pod_env: dict[str, str]
) -> None:
    process = await run("start", "web", env={**pod_env, "DEIS_COMMAND": "echo never"})
    assert process.code == 1
    assert process.out == ""
    assert process.err.count("\n") == 1
    assert "cannot run the slug: no slug at" in process.err
    assert (await run("health", env=pod_env)).code == 1


def test_bad_settings_and_arguments_exit_2() -> None:
    bad = subprocess.run(
        [*RUNNER, "start", "web"],
        env={"PATH": os.defpath, "DEIS_OBJECT_STORE": "ftp"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 2
    assert "invalid settings" in bad.stderr
    assert subprocess.run([*RUNNER, "stop"], capture_output=True, check=False).returncode == 2
