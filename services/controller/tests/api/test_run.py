"""`deis run` over HTTP (API.md §2.2): the controller asks the scheduler over NATS.

The scheduler does not exist yet (issue 5), so some tests start a tiny `Responder` on
`deis.rpc.scheduler.run` as its test double: it plays the scheduler's side of the RPC contract
only, and is allowed here for that reason alone.
"""

import uuid
from collections.abc import AsyncIterator

import pytest

from deis_shared.bus import requesting
from deis_shared.rpc import scheduler as scheduler_rpc


@pytest.fixture
async def owner(register):
    await register("admin")
    return await register("bob")


async def add_build(controller, app_id: str) -> None:
    """Release v2 with a build, written directly (the builds API belongs to another module)."""
    pool = controller.state.context.pool
    async with pool.acquire() as conn, conn.transaction():
        app = await conn.fetchrow("SELECT uuid, owner_id FROM apps WHERE id = $1", app_id)
        build = uuid.uuid4()
        await conn.execute(
            """
            INSERT INTO builds (uuid, app_uuid, owner_id, image, sha, procfile, slug_key)
            VALUES ($1, $2, $3, $4, 'abc1234', '{"web": "python app.py"}', $4)
            """,
            build,
            app["uuid"],
            app["owner_id"],
            f"slugs/{app_id}/abc1234.tar.gz",
        )
        await conn.execute(
            """
            INSERT INTO releases (uuid, app_uuid, owner_id, version, summary, config_uuid,
                                  build_uuid)
            SELECT $1, app_uuid, owner_id, 2, 'bob deployed abc1234', config_uuid, $2
            FROM releases WHERE app_uuid = $3 AND version = 1
            """,
            uuid.uuid4(),
            build,
            app["uuid"],
        )


@pytest.fixture
async def scheduler(nc) -> AsyncIterator[list[scheduler_rpc.RunRequest]]:
    """A stand-in for the scheduler's run RPC: exit code 3, output echoing the command."""
    seen: list[scheduler_rpc.RunRequest] = []

    async def handle(request: scheduler_rpc.RunRequest) -> scheduler_rpc.RunReply:
        seen.append(request)
        return scheduler_rpc.RunReply(exit_code=3, output=f"ran {request.command}\n")

    responder = requesting.Responder(
        nc=nc,
        subject=scheduler_rpc.RUN_SUBJECT,
        queue="scheduler-double",
        request_type=scheduler_rpc.RunRequest,
        handler=handle,
    )
    await responder.start()
    try:
        yield seen
    finally:
        await responder.close()


async def test_run_answers_the_schedulers_exit_code_and_output(
    client, auth, owner, app_id, controller, scheduler
):
    await add_build(controller, app_id)
    response = await client.post(
        f"/v2/apps/{app_id}/run", json={"command": "echo hi"}, headers=auth(owner)
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"exit_code": 3, "output": "ran echo hi\n"}
    [request] = scheduler
    assert (request.app, request.command, request.user) == (app_id, "echo hi", "bob")
    assert request.timeout_seconds == controller.state.context.settings.run_timeout


async def test_run_logs_a_platform_line(client, auth, owner, app_id, controller, scheduler):
    await add_build(controller, app_id)
    response = await client.post(
        f"/v2/apps/{app_id}/run/", json={"command": "ls"}, headers=auth(owner)
    )
    assert response.status_code == 200
    payloads = await controller.state.context.pool.fetch(
        "SELECT payload FROM outbox WHERE subject = $1 ORDER BY seq", f"deis.logs.{app_id}"
    )
    assert any(b"bob runs 'ls'" in row["payload"] for row in payloads)


async def test_run_without_a_scheduler_is_503(client, auth, owner, app_id, controller):
    await add_build(controller, app_id)
    response = await client.post(
        f"/v2/apps/{app_id}/run", json={"command": "ls"}, headers=auth(owner)
    )
    assert response.status_code == 503
    assert response.json() == {"detail": "Service temporarily unavailable, try again later."}


@pytest.mark.parametrize("body", [{}, {"command": ""}, {"command": 3}])
async def test_run_needs_a_command(client, auth, owner, app_id, controller, body):
    await add_build(controller, app_id)
    response = await client.post(f"/v2/apps/{app_id}/run", json=body, headers=auth(owner))
    assert response.status_code == 400
    assert response.json() == {"detail": "command is a required field"}


async def test_run_needs_a_build(client, auth, owner, app_id, scheduler):
    response = await client.post(
        f"/v2/apps/{app_id}/run", json={"command": "ls"}, headers=auth(owner)
    )
    assert response.status_code == 400
    assert response.json() == {
        "detail": "No build associated with this release to run this command"
    }
    assert scheduler == []


async def test_run_permissions(client, auth, register, owner, app_id, controller, scheduler):
    await add_build(controller, app_id)
    stranger = await register("eve")
    path = f"/v2/apps/{app_id}/run"
    assert (await client.post(path, json={"command": "ls"})).status_code == 401
    refused = await client.post(path, json={"command": "ls"}, headers=auth(stranger))
    assert refused.status_code == 403
    missing = await client.post(
        f"/v2/apps/{app_id}x/run", json={"command": "ls"}, headers=auth(owner)
    )
    assert (missing.status_code, missing.json()) == (404, "No App matches the given query.")
    await controller.state.context.pool.execute(
        """
        INSERT INTO app_perms (app_uuid, user_id)
        SELECT a.uuid, u.id FROM apps a, users u WHERE a.id = $1 AND u.username = 'eve'
        """,
        app_id,
    )
    allowed = await client.post(path, json={"command": "ls"}, headers=auth(stranger))
    assert allowed.status_code == 200
    admin = (
        await client.post("/v2/auth/login/", json={"username": "admin", "password": "s3cret-pw"})
    ).json()["token"]
    assert (await client.post(path, json={"command": "ls"}, headers=auth(admin))).status_code == 200
