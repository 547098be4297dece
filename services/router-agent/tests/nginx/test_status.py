# mypy: allow-untyped-defs, allow-untyped-calls, allow-incomplete-defs
"""A cancellation that a timeout swallowed still stops the waiting loops."""

import asyncio
import contextlib

import pytest

from deis_router_agent.nginx import status


async def test_a_swallowed_cancellation_is_raised_again():
    async def waiting():
        task = asyncio.current_task()
        assert task is not None
        task.cancel()
        # What an `asyncio.timeout` expiring at the same moment may do:
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(1)
        status.raise_if_cancelling()
        return "went on"

    with pytest.raises(asyncio.CancelledError):
        await asyncio.create_task(waiting())


async def test_nothing_is_raised_without_a_cancellation():
    status.raise_if_cancelling()
