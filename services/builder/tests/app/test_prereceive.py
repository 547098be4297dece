"""The hook socket with the real hook script: relay, exit codes, output limit, strangers."""

import asyncio
import sys

import pytest

from deis_builder import hookscript
from deis_builder.app import prereceive, repos

REFS = f"{'0' * 40} {'a' * 40} refs/heads/main\n"


@pytest.fixture
async def server():
    started = prereceive.HookServer(output_limit=1024)
    await started.start()
    try:
        yield started
    finally:
        await started.close()


async def run_hook(server, token, *, refs=REFS):
    script = server.path.parent / "pre-receive"
    script.write_text(repos.hook_text())
    env = {hookscript.SOCKET_VARIABLE: str(server.path), "GIT_QUARANTINE_PATH": "/q"}
    if token is not None:
        env[hookscript.TOKEN_VARIABLE] = token
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(script),
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await process.communicate(refs.encode())
    return process.returncode, out.decode()


async def test_the_hook_relays_output_and_exits_with_the_builders_code(server):
    seen = []

    async def handler(request, channel):
        seen.append(request)
        await channel.line("-----> building")
        return 3

    with server.expect(handler) as token:
        code, out = await run_hook(server, token)
    await server.close()
    assert (code, out) == (3, "-----> building\n")
    assert seen == [prereceive.HookRequest(refs=REFS, quarantine={"GIT_QUARANTINE_PATH": "/q"})]
    assert not server.path.parent.exists()


async def test_output_past_the_limit_is_cut_with_one_notice(server):
    async def handler(request, channel):
        for n in range(200):
            await channel.line(f"line {n:04d} " + "x" * 40)
        return 0

    with server.expect(handler) as token:
        code, out = await run_hook(server, token)
    lines = out.splitlines()
    assert code == 0
    assert len(out.encode()) < 1024 + 200
    assert lines[0].startswith("line 0000")
    assert lines[-1].strip() == "... build output limit reached; further lines are not shown"
    assert sum("limit reached" in line for line in lines) == 1


async def test_a_hook_without_a_valid_token_is_refused(server):
    async def handler(request, channel):
        raise AssertionError("must not run")

    with server.expect(handler):
        wrong = await run_hook(server, "not-the-token")
        missing = await run_hook(server, None)
    assert wrong == (1, "! this push was not started through the builder\n")
    assert missing == (1, "! this repository only accepts pushes through the builder\n")


async def test_a_token_works_once(server):
    async def handler(request, channel):
        return 0

    with server.expect(handler) as token:
        first = await run_hook(server, token)
        again = await run_hook(server, token)
    assert first == (0, "")
    assert again[0] == 1


async def test_close_is_idempotent_and_safe_before_start():
    server = prereceive.HookServer(output_limit=1024)
    await server.close()
    await server.close()
    assert server.state is prereceive.HookState.CLOSED
