"""Fixtures of the bus tests: a connected `Bus` on the session nats-server."""

from collections.abc import AsyncIterator

import pytest

from deis_shared.bus import connection
from deis_testing import NatsServer


@pytest.fixture
async def bus(nats_server: NatsServer) -> AsyncIterator[connection.Bus]:
    """A connected bus, closed after the test."""
    b = await connection.connect(url=nats_server.url, name="test", connect_timeout=2)
    try:
        yield b
    finally:
        await b.close()
