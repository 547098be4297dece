"""Who may push and clone, and what the SSH server refuses, through the real ssh client."""

import asyncio

import pytest

STATIC = {"index.html": "<p>hi</p>\n"}


async def ssh(dev, port, *command, user="git"):
    process = await asyncio.create_subprocess_exec(
        "ssh",
        "-i",
        str(dev.key),
        "-p",
        str(port),
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "BatchMode=yes",
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
        f"{user}@127.0.0.1",
        *command,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=dev.env(port),
    )
    out, _ = await asyncio.wait_for(process.communicate(), timeout=30)
    return process.returncode, out.decode(errors="replace")


async def test_an_unknown_key_is_refused_with_a_hint(builder, controller, developer, app_name):
    owner = developer()
    controller.create_app(owner.token, app_name)
    stranger = developer(key=False)
    code, output = await ssh(stranger, builder.ssh.port, f"git-receive-pack '/{app_name}.git'")
    assert code != 0
    assert "unknown SSH key" in output
    assert "deis keys:add" in output


@pytest.mark.parametrize(
    ("command", "reason"),
    [
        (["ls"], "only `git push` and `git clone`"),
        (["sh", "-c", "'id'"], "only `git push` and `git clone`"),
        (["git-upload-pack", "'../../etc'"], "must be named <app>.git"),
        (["git-receive-pack", "'/../x.git'"], "invalid app name"),
        (["git-receive-pack", "'/MyApp.git'"], "invalid app name"),
    ],
)
async def test_other_commands_are_refused_with_one_line(builder, developer, command, reason):
    dev = developer()
    code, output = await ssh(dev, builder.ssh.port, *command)
    assert code == 1
    refusals = [line for line in output.splitlines() if line.startswith("! ")]
    assert len(refusals) == 1
    assert reason in refusals[0]


async def test_a_shell_is_refused(builder, developer):
    dev = developer()
    code, output = await ssh(dev, builder.ssh.port)
    assert code == 1
    assert "interactive shells are not allowed" in output


async def test_only_the_git_user_logs_in(builder, developer):
    dev = developer()
    code, output = await ssh(dev, builder.ssh.port, "ls", user="root")
    assert code == 255
    assert "log in as git@" in output


async def test_a_collaborator_may_push_and_a_stranger_may_not(
    builder, controller, developer, working_copy, rollouts, app_name
):
    owner, collaborator, stranger = developer(), developer(), developer()
    controller.create_app(owner.token, app_name)
    controller.grant(owner.token, app_name, collaborator.username)

    refused_copy = await working_copy(stranger, builder, app_name)
    await refused_copy.commit(STATIC)
    refused = await refused_copy.push()
    assert refused.code != 0
    assert f"{stranger.username} may not use app {app_name}" in refused.output

    allowed_copy = await working_copy(collaborator, builder, app_name)
    await allowed_copy.commit(STATIC)
    allowed = await allowed_copy.push()
    assert allowed.code == 0, allowed.output
    assert f"done, {app_name} v2" in allowed.output
    assert controller.builds(owner.token, app_name)[0]["owner"] == collaborator.username


async def test_a_push_to_an_app_that_does_not_exist_is_refused(
    builder, developer, working_copy, app_name
):
    dev = developer()
    wc = await working_copy(dev, builder, app_name)
    await wc.commit(STATIC)
    pushed = await wc.push()
    assert pushed.code != 0
    assert f"app {app_name} does not exist" in pushed.output


async def test_the_owner_can_clone_the_app_back(
    own_app, builder, rollouts, app_name, tmp_path, run_git
):
    _, wc = await own_app()
    sha = await wc.commit(STATIC)
    assert (await wc.push()).code == 0

    url = f"ssh://git@127.0.0.1:{builder.ssh.port}/{app_name}.git"
    cloned = await run_git("clone", "-q", url, str(tmp_path / "clone"), cwd=tmp_path, env=wc.env)
    assert cloned.code == 0, cloned.output
    head = await run_git("rev-parse", "HEAD", cwd=tmp_path / "clone", env=wc.env)
    assert head.output.strip() == sha


async def test_cloning_an_app_never_pushed_to_is_refused(
    builder, controller, developer, run_git, app_name, tmp_path
):
    dev = developer()
    controller.create_app(dev.token, app_name)
    url = f"ssh://git@127.0.0.1:{builder.ssh.port}/{app_name}.git"

    cloned = await run_git(
        "clone", url, str(tmp_path / "c"), cwd=tmp_path, env=dev.env(builder.ssh.port)
    )

    assert cloned.code != 0
    assert f"{app_name} has no repository yet: push to it first" in cloned.output
