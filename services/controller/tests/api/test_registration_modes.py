"""Registration modes (docs/api.md §1.7)."""

import httpx
import pytest


@pytest.mark.parametrize("controller_overrides", [{"registration_mode": "disabled"}])
async def test_disabled_registration(client: httpx.AsyncClient):
    response = await client.post("/v2/auth/register/", json={"username": "a", "password": "p"})
    assert (response.status_code, response.json()) == (403, {"detail": "Registration is disabled"})


@pytest.mark.parametrize("controller_overrides", [{"registration_mode": "admin_only"}])
async def test_admin_only_registration(auth, client: httpx.AsyncClient):
    body = {"username": "admin", "password": "p"}
    assert (await client.post("/v2/auth/register/", json=body)).status_code == 201
    refused = await client.post("/v2/auth/register/", json={"username": "b", "password": "p"})
    assert refused.status_code == 403
    token = (await client.post("/v2/auth/login/", json=body)).json()["token"]
    allowed = await client.post(
        "/v2/auth/register/", json={"username": "b", "password": "p"}, headers=auth(token)
    )
    assert allowed.status_code == 201
    assert allowed.json()["is_superuser"] is False
