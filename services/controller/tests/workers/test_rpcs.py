"""The builder's RPCs against a running controller: key lookup and push authorization."""

import secrets
import uuid

import httpx
import nats.aio.client
import pytest

from deis_shared.bus import requesting
from deis_shared.rpc import controller as controller_rpc


def fingerprint() -> str:
    """A random MD5-shaped fingerprint, so no other test's key can match it."""
    return ":".join(f"{byte:02x}" for byte in secrets.token_bytes(16))


async def add_key(controller, *, username: str, fp: str) -> None:
    pool = controller.state.context.pool
    await pool.execute(
        """
        INSERT INTO keys (uuid, id, owner_id, public, fingerprint)
        SELECT $1, $2, id, $3, $4 FROM users WHERE username = $5
        """,
        uuid.uuid4(),
        f"{username}@laptop",
        f"ssh-ed25519 AAAA{secrets.token_hex(8)} {username}",
        fp,
        username,
    )


async def lookup(nc: nats.aio.client.Client, fp: str) -> controller_rpc.KeyLookupReply:
    return await requesting.request(
        nc,
        subject=controller_rpc.KEY_SUBJECT,
        payload=controller_rpc.KeyLookupRequest(fingerprint=fp),
        reply_type=controller_rpc.KeyLookupReply,
        timeout=5,
    )


async def authorize(
    nc: nats.aio.client.Client, *, username: str, app: str
) -> controller_rpc.AuthorizeReply:
    return await requesting.request(
        nc,
        subject=controller_rpc.AUTHORIZE_SUBJECT,
        payload=controller_rpc.AuthorizeRequest(username=username, app=app),
        reply_type=controller_rpc.AuthorizeReply,
        timeout=5,
    )


async def test_key_lookup_names_the_owner_of_a_known_key(controller, register, nc):
    await register("alice")
    fp = fingerprint()
    await add_key(controller, username="alice", fp=fp)
    reply = await lookup(nc, fp)
    assert (reply.username, reply.found) == ("alice", True)


async def test_key_lookup_of_an_unknown_key_answers_none(controller, register, nc):
    await register("alice")
    await add_key(controller, username="alice", fp=fingerprint())
    reply = await lookup(nc, fingerprint())
    assert (reply.username, reply.found) == (None, False)


@pytest.fixture
async def shared_app(controller, client: httpx.AsyncClient, register, auth, unique):
    """An app of bob's, shared with carol; alice is the admin, dave a stranger."""
    await register("alice")
    bob = await register("bob")
    await register("carol")
    await register("dave")
    created = await client.post("/v2/apps/", json={"id": unique}, headers=auth(bob))
    assert created.status_code == 201, created.text
    await controller.state.context.pool.execute(
        """
        INSERT INTO app_perms (app_uuid, user_id)
        SELECT a.uuid, u.id FROM apps a, users u WHERE a.id = $1 AND u.username = 'carol'
        """,
        unique,
    )
    return unique


@pytest.mark.parametrize("username", ["bob", "carol", "alice"])
async def test_owner_collaborator_and_admin_may_push(shared_app: str, nc, username):
    reply = await authorize(nc, username=username, app=shared_app)
    assert (reply.allowed, reply.reason) == (True, "")


async def test_a_stranger_may_not_push(shared_app: str, nc):
    reply = await authorize(nc, username="dave", app=shared_app)
    assert (reply.allowed, reply.reason) == (False, f"dave may not use app {shared_app}")


async def test_pushing_to_an_unknown_app_is_refused(shared_app: str, nc, unique):
    missing = f"x{unique}"
    reply = await authorize(nc, username="bob", app=missing)
    assert (reply.allowed, reply.reason) == (False, f"app {missing} does not exist")


async def test_an_unknown_user_may_not_push(shared_app: str, nc):
    reply = await authorize(nc, username="mallory", app=shared_app)
    assert (reply.allowed, reply.reason) == (False, "unknown user mallory")


async def test_membership_is_exact_not_a_substring(shared_app: str, client, auth, nc):
    # Deis's builder accepted a push when the repo name was contained in the user's app list.
    dave = await client.post("/v2/auth/login/", json={"username": "dave", "password": "s3cret-pw"})
    created = await client.post(
        "/v2/apps/", json={"id": f"{shared_app}x"}, headers=auth(dave.json()["token"])
    )
    assert created.status_code == 201
    assert (await authorize(nc, username="dave", app=f"{shared_app}x")).allowed is True
    assert (await authorize(nc, username="dave", app=shared_app)).allowed is False
