"""The controller's answers, and what a push meets when the controller does not answer."""

import nats
import pytest

from deis_builder.app import access
from deis_builder.errors import Refused


async def test_a_silent_controller_refuses_rather_than_lets_anyone_in(nats_server_factory):
    server = nats_server_factory()
    nc = await nats.connect(server.url)
    try:
        with pytest.raises(Refused, match="controller is not answering"):
            await access.key_owner(nc, fingerprint=":".join(["ab"] * 16), timeout=0.5)
        with pytest.raises(Refused, match="controller is not answering"):
            await access.authorize(nc, username="bob", app="myapp", timeout=0.5)
    finally:
        await nc.close()
