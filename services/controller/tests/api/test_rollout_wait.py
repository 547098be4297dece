"""A request that makes a release waits for its rollout: with nobody rolling it out (no
scheduler here), it answers 503 at `rollout_wait`, saying the rollout goes on; a second change
meanwhile gets 409; a release with nothing to run answers at once."""

import asyncio
import time

import pytest


@pytest.fixture
def controller_overrides():
    return {"rollout_wait": 1.5, "route_wait": 0.1}


async def pulled(client, headers, app_id):
    """An image release (v2, `cmd: 1`): something the scheduler would have to roll out."""
    answer = await client.post(
        f"/v2/apps/{app_id}/builds/", json={"image": "example/app:1"}, headers=headers
    )
    assert answer.status_code == 503, answer.text  # waited for its rollout too
    return answer


async def test_a_release_nobody_rolls_out_answers_503_at_the_deadline(client, auth, owner, app_id):
    headers = auth(owner)
    began = time.monotonic()
    answer = await pulled(client, headers, app_id)
    assert 1.4 < time.monotonic() - began < 10
    assert answer.json() == {
        "detail": f"v2 of {app_id} is still rolling out after 2 s; the rollout goes on:"
        " see `deis releases` and `deis ps`"
    }
    # The release was made all the same.
    releases = (await client.get(f"/v2/apps/{app_id}/releases/", headers=headers)).json()
    assert releases["results"][0]["version"] == 2


async def test_a_change_while_one_waits_is_refused_with_409(client, auth, owner, app_id):
    headers = auth(owner)
    await pulled(client, headers, app_id)
    first = asyncio.create_task(
        client.post(f"/v2/apps/{app_id}/config/", json={"values": {"A": "1"}}, headers=headers)
    )
    await asyncio.sleep(0.5)
    second = await client.post(
        f"/v2/apps/{app_id}/config/", json={"values": {"B": "2"}}, headers=headers
    )
    assert second.status_code == 409
    assert second.json() == {"detail": f"Deployment for {app_id} is already in progress"}
    assert (await first).status_code == 503


async def test_a_release_with_nothing_to_run_answers_at_once(client, auth, owner, app_id):
    began = time.monotonic()
    answer = await client.post(
        f"/v2/apps/{app_id}/config/", json={"values": {"A": "1"}}, headers=auth(owner)
    )
    assert answer.status_code == 201, answer.text
    assert time.monotonic() - began < 1.0  # no build yet: nothing rolls out
