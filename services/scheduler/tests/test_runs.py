"""`deis run` through the scheduler's RPC, with a real process in the app's release."""

import pytest

from deis_shared.bus import errors as bus_errors

PROCFILE = {"web": "python3 app.py"}


async def released(platform, app, app_files):
    await platform.slug(app, "aaaaaaa", app_files)
    await platform.desire(
        app,
        version=2,
        sha="aaaaaaa",
        procfile=PROCFILE,
        formation={"web": 0},
        config={"GREETING": "hey"},
    )
    assert (await platform.outcome(app, 2))[0] == "succeeded"


async def test_run_returns_output_and_exit_code_in_the_release(platform, app_name, app_files):
    await released(platform, app_name, app_files)

    reply = await platform.run(app_name, 'echo "$GREETING $WORKFLOW_RELEASE"; ls app.py; exit 7')

    assert reply.exit_code == 7
    assert reply.output == "hey v2\napp.py\n"
    assert not reply.truncated


async def test_run_is_killed_after_its_timeout(platform, app_name, app_files):
    await released(platform, app_name, app_files)

    reply = await platform.run(app_name, "echo started; sleep 30", seconds=0.5)

    assert reply.exit_code == 124
    assert reply.output.startswith("started\n")


async def test_run_of_an_app_without_a_release_is_refused(platform, app_name):
    with pytest.raises(bus_errors.RpcRemoteError) as refused:
        await platform.run(app_name, "true")
    assert refused.value.code == "no_release"


async def test_a_command_the_kernel_cannot_start_is_refused_as_invalid(
    platform, app_name, app_files
):
    await released(platform, app_name, app_files)
    # One argument above Linux's MAX_ARG_STRLEN (128 KiB): exec fails with E2BIG.
    command = "true " + "x" * (200 << 10)

    with pytest.raises(bus_errors.RpcRemoteError) as refused:
        await platform.run(app_name, command)

    assert refused.value.code == "invalid"
    assert "Argument list too long" in refused.value.message
    # The scheduler goes on serving runs.
    assert (await platform.run(app_name, "echo fine")).output == "fine\n"
