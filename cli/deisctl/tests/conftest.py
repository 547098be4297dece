"""Fixtures of the `deisctl` tests."""

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A directory everyone may pass through: PostgreSQL's user must reach the data dir."""
    path = Path(tempfile.mkdtemp(prefix="deisctl-plan-", dir="/tmp"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
