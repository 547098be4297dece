"""Scaling over HTTP: `POST /v2/apps/<id>/scale/` (docs/api.md §2.2)."""

import json
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

PROCFILE = {"web": "python app.py", "worker": "python worker.py"}


@pytest.fixture
def team_path() -> str:
    return "scale"


async def add_release(
    controller: FastAPI, *, app: str, procfile: dict[str, str] | None, failed: bool = False
) -> None:
    """A release after the latest, with a new build (or none when `procfile` is None)."""
    async with controller.state.context.pool.acquire() as conn, conn.transaction():
        app_uuid, owner_id = await conn.fetchrow(
            "SELECT uuid, owner_id FROM apps WHERE id = $1", app
        )
        build_uuid = None
        if procfile is not None:
            build_uuid = uuid.uuid4()
            await conn.execute(
                "INSERT INTO builds (uuid, app_uuid, owner_id, image, sha, procfile, slug_key)"
                " VALUES ($1, $2, $3, 'example/app', 'abc1234', $4, 'slugs/app.tgz')",
                build_uuid,
                app_uuid,
                owner_id,
                procfile,
            )
        await conn.execute(
            "INSERT INTO releases (uuid, app_uuid, owner_id, version, failed, config_uuid,"
            " build_uuid)"
            " SELECT $2, $1, $3, max(version) + 1, $4,"
            "  (SELECT config_uuid FROM releases WHERE app_uuid = $1 ORDER BY version LIMIT 1),"
            "  $5"
            " FROM releases WHERE app_uuid = $1",
            app_uuid,
            uuid.uuid4(),
            owner_id,
            failed,
            build_uuid,
        )


@pytest.fixture
async def built(team, controller: FastAPI):
    await add_release(controller, app=team.app, procfile=PROCFILE)
    return team


async def structure(client: httpx.AsyncClient, team) -> dict[str, int]:
    response = await client.get(f"/v2/apps/{team.app}/", headers=team.headers["alice"])
    value: dict[str, int] = response.json()["structure"]
    return value


async def outbox(controller: FastAPI, *, app: str) -> list[dict[str, Any]]:
    async with controller.state.context.pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT kind, subject, bucket, key, payload FROM outbox"
            " WHERE key = $1 OR subject = $2 ORDER BY seq",
            app,
            f"deis.logs.{app}",
        )
    return [dict(row) for row in rows]


async def release_count(controller: FastAPI, *, app: str) -> int:
    async with controller.state.context.pool.acquire() as conn:
        count: int = await conn.fetchval(
            "SELECT count(*) FROM releases r JOIN apps a ON a.uuid = r.app_uuid WHERE a.id = $1",
            app,
        )
    return count


async def test_scaling_merges_into_the_structure_without_a_release(
    client: httpx.AsyncClient, built, controller: FastAPI
):
    team = built
    releases = await release_count(controller, app=team.app)
    response = await client.post(
        team.url, json={"web": 3, "worker": "1"}, headers=team.headers["alice"]
    )
    assert response.status_code == 204
    assert response.content == b""
    assert await structure(client, team) == {"web": 3, "worker": 1}
    again = await client.post(team.url.rstrip("/"), json={"web": 0}, headers=team.headers["alice"])
    assert again.status_code == 204
    assert await structure(client, team) == {"web": 0, "worker": 1}
    assert await release_count(controller, app=team.app) == releases


async def test_scaling_updates_the_desired_formation_and_logs(
    client: httpx.AsyncClient, built, controller: FastAPI
):
    team = built
    await client.post(team.url, json={"web": 3, "worker": 1}, headers=team.headers["bob"])
    rows = await outbox(controller, app=team.app)
    desired = [row for row in rows if row["bucket"] == "desired"][-1]
    assert json.loads(desired["payload"])["formation"] == {"web": 3, "worker": 1}
    lines = [json.loads(row["payload"])["message"] for row in rows if row["kind"] == "event"]
    assert "bob scaled web=3, worker=1" in lines


async def test_an_unchanged_structure_is_a_silent_success(
    client: httpx.AsyncClient, built, controller: FastAPI
):
    team = built
    await client.post(team.url, json={"web": 2}, headers=team.headers["alice"])
    before = await outbox(controller, app=team.app)
    for body in ({"web": 2}, {"web": "2"}, {}):
        response = await client.post(team.url, json=body, headers=team.headers["alice"])
        assert response.status_code == 204
    assert await outbox(controller, app=team.app) == before


async def test_cmd_may_always_be_scaled(client: httpx.AsyncClient, built, controller: FastAPI):
    response = await client.post(built.url, json={"cmd": 1}, headers=built.headers["alice"])
    assert response.status_code == 204
    assert await structure(client, built) == {"cmd": 1}


async def test_a_type_missing_from_the_procfile_is_not_found(client: httpx.AsyncClient, built):
    response = await client.post(
        built.url, json={"web": 1, "db": 1}, headers=built.headers["alice"]
    )
    assert response.status_code == 404
    assert response.json() == {"detail": "Container type db does not exist in application"}
    assert await structure(client, built) == {}


async def test_without_a_build_there_is_nothing_to_scale(
    client: httpx.AsyncClient, team, controller: FastAPI
):
    response = await client.post(team.url, json={"web": 1}, headers=team.headers["alice"])
    assert response.status_code == 400
    assert response.json() == {"detail": "No build associated with this release"}
    # A release with a build, then one without (its build is what counts).
    await add_release(controller, app=team.app, procfile=PROCFILE)
    await add_release(controller, app=team.app, procfile=None)
    response = await client.post(team.url, json={"web": 1}, headers=team.headers["alice"])
    assert response.status_code == 400


async def test_a_failed_release_does_not_count(
    client: httpx.AsyncClient, built, controller: FastAPI
):
    await add_release(controller, app=built.app, procfile={"other": "x"}, failed=True)
    response = await client.post(built.url, json={"worker": 2}, headers=built.headers["alice"])
    assert response.status_code == 204
    failed = await client.post(built.url, json={"other": 1}, headers=built.headers["alice"])
    assert failed.status_code == 404


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"web": "x"}, "Invalid scaling format: invalid literal for int() with base 10: 'x'"),
        ({"web": -1}, "Invalid scaling format: ['Must be greater than or equal to zero']"),
        ({"web": "-2"}, "Invalid scaling format: ['Must be greater than or equal to zero']"),
        (
            {"web": None},
            "Invalid scaling format: int() argument must be a string, a bytes-like object"
            " or a real number, not 'NoneType'",
        ),
    ],
)
async def test_malformed_counts(
    client: httpx.AsyncClient, built, body: dict[str, Any], detail: str
):
    response = await client.post(built.url, json=body, headers=built.headers["alice"])
    assert response.status_code == 400
    assert response.json() == {"detail": detail}
    assert await structure(client, built) == {}


async def test_a_malformed_count_is_reported_before_a_missing_build(
    client: httpx.AsyncClient, team
):
    response = await client.post(team.url, json={"web": "x"}, headers=team.headers["alice"])
    assert response.json()["detail"].startswith("Invalid scaling format")


@pytest.mark.parametrize(
    ("who", "status"),
    [(None, 401), ("eve", 403), ("bob", 204), ("alice", 204), ("root", 204)],
)
async def test_who_may_scale(client: httpx.AsyncClient, built, who: str | None, status: int):
    headers = built.headers[who] if who else {}
    response = await client.post(built.url, json={"web": 2}, headers=headers)
    assert response.status_code == status
    assert (await structure(client, built) == {"web": 2}) == (status == 204)


async def test_a_malformed_type_name_is_a_bad_request(client: httpx.AsyncClient, built):
    response = await client.post(built.url, json={"Web_1": 1}, headers=built.headers["alice"])
    assert response.status_code == 400
    assert response.json()["detail"].startswith("Invalid scaling format: ")
