"""The one definition of memory and CPU limits: examples, and properties over any text."""

import pydantic
import pytest
from hypothesis import given, strategies as st

from deis_shared import limits
from deis_shared.kv import desired as desired_kv

UNITS = {"B": 1, "K": 1 << 10, "KB": 1 << 10, "M": 1 << 20, "MB": 1 << 20, "G": 1 << 30}
UNITS |= {"GB": 1 << 30}

LIMIT_TEXT = st.one_of(
    st.text(max_size=80),
    st.from_regex(r"[-+0-9./mMKGBkgb ]{0,24}", fullmatch=True),
    st.from_regex(limits.CPU_PATTERN, fullmatch=True),
    st.from_regex(limits.MEMORY_PATTERN, fullmatch=True),
)
"""Anything a user could send: random text, near misses, and whatever the patterns match."""


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("0", limits.Limit(None, None)),
        ("512M", limits.Limit(None, 512 << 20)),
        ("0/100MB", limits.Limit(None, 100 << 20)),
        ("1G/2G", limits.Limit(1 << 30, 2 << 30)),
        ("20gb", limits.Limit(None, 20 << 30)),
        ("1M/0G", limits.Limit(1 << 20, None)),
    ],
)
def test_memory_examples(spec: str, expected: limits.Limit) -> None:
    assert limits.parse_memory(spec) == expected


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("500m/600m", limits.Limit(500, 600)),
        ("0.5", limits.Limit(None, 500)),
        (".123", limits.Limit(None, 123)),
        ("+2", limits.Limit(None, 2000)),
        ("0/2", limits.Limit(None, 2000)),
        ("1024", limits.Limit(None, 1_024_000)),
    ],
)
def test_cpu_examples(spec: str, expected: limits.Limit) -> None:
    assert limits.parse_cpu(spec) == expected


@pytest.mark.parametrize(
    ("parse", "spec"),
    [
        (limits.parse_memory, "10"),
        (limits.parse_memory, "-1M"),
        (limits.parse_memory, "2G/1G"),
        (limits.parse_memory, "1/2/3"),
        (limits.parse_cpu, "-1"),
        (limits.parse_cpu, "1/-1"),
        (limits.parse_cpu, "0.0005"),
        (limits.parse_cpu, "1025"),
        (limits.parse_cpu, "1" * 65),
    ],
)
def test_values_no_backend_can_apply_are_refused(parse, spec: str) -> None:
    with pytest.raises(limits.InvalidLimit):
        parse(spec)


@given(LIMIT_TEXT)
def test_parsers_refuse_only_with_invalid_limit(text: str) -> None:
    for parse in (limits.parse_memory, limits.parse_cpu):
        try:
            parsed = parse(text)
        except limits.InvalidLimit:
            continue
        assert parsed.limit is None or parsed.limit > 0
        if parsed.request is not None and parsed.limit is not None:
            assert parsed.request <= parsed.limit


@given(LIMIT_TEXT)
def test_the_desired_state_takes_exactly_what_the_parsers_take(text: str) -> None:
    # What the controller stores (parse_*) and what a scheduler decodes (the wire model) agree.
    for field, parse in (("memory", limits.parse_memory), ("cpu", limits.parse_cpu)):
        try:
            parse(text)
            parsed = True
        except limits.InvalidLimit:
            parsed = False
        try:
            desired_kv.Limits.model_validate({field: {"web": text}})
            decoded = True
        except pydantic.ValidationError:
            decoded = False
        assert parsed == decoded, (field, text)


@given(st.integers(min_value=1, max_value=1 << 20), st.sampled_from(sorted(UNITS)))
def test_memory_counts_in_binary_units(number: int, unit: str) -> None:
    assert limits.parse_memory(f"{number}{unit.lower()}").limit == number * UNITS[unit]


@given(st.integers(min_value=1, max_value=limits.MAX_MILLICORES))
def test_cpu_in_cores_and_millicores_agree(millicores: int) -> None:
    cores = f"{millicores // 1000}.{millicores % 1000:03d}"
    assert limits.parse_cpu(f"{millicores}m").limit == millicores
    assert limits.parse_cpu(cores).limit == millicores
