"""The apps' bare git repositories: created on first push, each with the builder's hook.

`git-receive-pack` and `git-upload-pack` run on these; the pre-receive hook (`hookscript`) is
written on every push with the builder's current interpreter in its `#!` line, so a builder
upgraded or moved to another virtualenv never leaves old repositories pointing at a stale one.
"""

import asyncio
import sys
from collections.abc import Mapping
from importlib import resources
from pathlib import Path

from deis_builder.errors import BuildFailed

HOOK_NAME = "pre-receive"


def hook_text() -> str:
    """The pre-receive hook: `hookscript.py` under a `#!` line naming this interpreter."""
    source = resources.files("deis_builder").joinpath("hookscript.py").read_text()
    return f"#!{sys.executable} -S\n{source}"


def _write_hook(repo: Path) -> None:
    hooks = repo / "hooks"
    hooks.mkdir(exist_ok=True)
    temp = hooks / f".{HOOK_NAME}.tmp"
    temp.write_text(hook_text())
    temp.chmod(0o755)
    temp.replace(hooks / HOOK_NAME)


async def git(*args: str, cwd: Path, env: Mapping[str, str]) -> bytes:
    """Run `git <args>` and return its output.

    Raises:
        BuildFailed: git exited with an error; the message carries its last line.
    """
    process = await asyncio.create_subprocess_exec(
        "git",
        *args,
        cwd=cwd,
        env=dict(env),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    if process.returncode != 0:
        last = err.decode(errors="replace").strip().splitlines()[-1:] or ["no message"]
        raise BuildFailed(f"git {args[0]} failed: {last[0]}")
    return out


async def ensure_repo(repo: Path, *, env: Mapping[str, str]) -> None:
    """Create the bare repository at `repo` unless it exists, and (re)write its hook."""
    if not (repo / "HEAD").exists():
        repo.parent.mkdir(parents=True, exist_ok=True)
        await git(
            "init",
            "--quiet",
            "--bare",
            "--initial-branch=main",
            str(repo),
            cwd=repo.parent,
            env=env,
        )
        # Pushes land whole or not at all; the hook is the gate.
        await git("config", "receive.fsckObjects", "true", cwd=repo, env=env)
    await asyncio.to_thread(_write_hook, repo)


async def archive(
    repo: Path, *, sha: str, dest: Path, env: Mapping[str, str], quarantine: Mapping[str, str]
) -> None:
    """Write the tree of commit `sha` as `dest` (a .tar.gz), reading quarantined objects too.

    Args:
        repo: The bare repository.
        sha: The pushed commit.
        dest: The tarball to write.
        env: The base environment.
        quarantine: git's quarantine variables from the hook, so that objects of a push not yet
            accepted are visible.
    """
    await git(
        "archive", "--format=tar.gz", f"--output={dest}", sha, cwd=repo, env={**env, **quarantine}
    )
