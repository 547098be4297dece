"""`deis run` over HTTP (docs/api.md §2.2): the controller asks the scheduler over NATS.

Most tests start a tiny `Responder` on `deis.rpc.scheduler.run` as the scheduler's double: it
plays the scheduler's side of the RPC contract only, so that each kind of answer (a reply, a
refusal the caller caused, a failure) can be made on demand and the controller's mapping of it
checked. The real scheduler's side is tested in `services/scheduler/tests/test_runs.py`.
"""

import uuid
from collections.abc import AsyncIterator

import pytest

from deis_shared.bus import requesting
from deis_shared.errors import PermanentError, TransientError
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


class Refusal(PermanentError):
    """What the scheduler raises for a command it cannot start (its `CannotStart`)."""

    code = "invalid"


@pytest.fixture
def scheduler_fails() -> list[Exception]:
    """Errors the stand-in raises instead of answering, one per request (empty: it answers)."""
    return []


@pytest.fixture
async def scheduler(nc, scheduler_fails) -> AsyncIterator[list[scheduler_rpc.RunRequest]]:
    """A stand-in for the scheduler's run RPC: exit code 3, output echoing the command."""
    seen: list[scheduler_rpc.RunRequest] = []

    async def handle(request: scheduler_rpc.RunRequest) -> scheduler_rpc.RunReply:
        seen.append(request)
        if scheduler_fails:
            raise scheduler_fails.pop(0)
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


@pytest.mark.parametrize(
    ("failure", "status"),
    [
        (Refusal("the command could not start: Argument list too long"), 400),
        (TransientError("the object store is away"), 503),
        (RuntimeError("a crash in the scheduler"), 503),
    ],
)
async def test_the_schedulers_refusals_are_the_clients_and_its_failures_503(
    client, auth, owner, app_id, controller, scheduler, scheduler_fails, failure, status
):
    await add_build(controller, app_id)
    scheduler_fails.append(failure)
    response = await client.post(
        f"/v2/apps/{app_id}/run", json={"command": "ls"}, headers=auth(owner)
    )
    assert response.status_code == status
    if status == 400:
        assert response.json() == {"detail": str(failure)}
    else:
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
