"""Fixtures of the worker tests: a NATS client of the test's own on the session's server."""

from collections.abc import AsyncIterator

import nats
import nats.aio.client
import pytest

from deis_testing import NatsServer


@pytest.fixture
async def nc(nats_server: NatsServer) -> AsyncIterator[nats.aio.client.Client]:
    """A NATS client for the test, playing the builder or the scheduler."""
    client = await nats.connect(nats_server.url)
    try:
        yield client
    finally:
        await client.close()
