"""Fixtures of the outbox tests: a pool on a schema of the test's own with the outbox
migrated, and a clock the test moves by hand."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from deis_shared.db import pool as db_pool
from deis_shared.outbox import schema as outbox_schema


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2030, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def new_clock() -> Callable[[], FakeClock]:
    """`new_clock()`: a clock at 2030-01-01 that moves only when told (`advance`)."""
    return FakeClock


@pytest.fixture
async def pool(pg_dsn, unique):
    async with db_pool.open_pool(dsn=pg_dsn, schema=unique, min_size=1, max_size=6) as pool:
        await outbox_schema.migrate_outbox(pool, schema=unique)
        yield pool
