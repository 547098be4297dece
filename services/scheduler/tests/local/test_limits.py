"""Deis memory limits as byte caps."""

import pytest

from deis_scheduler.local import limits
from deis_shared.limits import InvalidLimit


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (None, None),
        ("0", None),
        ("512M", 512 << 20),
        ("512mb", 512 << 20),
        ("1G", 1 << 30),
        ("64K", 64 << 10),
        ("100B", 100),
        ("0/100MB", 100 << 20),
        ("50M/1G", 1 << 30),
    ],
)
def test_memory_specs(spec, expected):
    assert limits.memory_bytes(spec) == expected


@pytest.mark.parametrize(
    "spec", ["", "M", "-1M", "1T", "1.5G", "lots", "100", "2G/1G", "99999999G"]
)
def test_bad_memory_specs_are_refused(spec):
    with pytest.raises(InvalidLimit):
        limits.memory_bytes(spec)
