"""The process-type rule every service checks, and the routable types, as one definition."""

import typing

import pydantic
import pytest

from deis_shared import processtypes, wire

VALID = ["web", "worker", "worker-2", "a", "0", "a1-b2-c3", "x" * 63, "a" + "-b" * 31]

HOSTILE = [
    pytest.param("", id="empty"),
    pytest.param("x" * 64, id="64-chars"),
    pytest.param("x" * 10_000, id="huge"),
    pytest.param("Web", id="uppercase"),
    pytest.param("web_1", id="underscore"),
    pytest.param("-web", id="leading-dash"),
    pytest.param("web-", id="trailing-dash"),
    pytest.param("a--b", id="double-dash"),
    pytest.param("web.1", id="dot"),
    pytest.param("../etc", id="traversal"),
    pytest.param("web/cmd", id="slash"),
    pytest.param("web\n", id="trailing-newline"),
    pytest.param("web\x00", id="nul"),
    pytest.param("web 1", id="space"),
    pytest.param("wéb", id="non-ascii"),
    pytest.param("web\u0661", id="non-ascii-digit"),
    pytest.param("*", id="wildcard"),
    pytest.param("web>", id="subject-tail"),
]

_WIRE: pydantic.TypeAdapter[str] = pydantic.TypeAdapter(wire.ProcessType)


@pytest.mark.parametrize("name", VALID)
def test_valid_names(name: str) -> None:
    assert processtypes.is_valid(name)
    assert processtypes.PATTERN.fullmatch(name)
    assert _WIRE.validate_python(name) == name


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_names_are_refused_here_and_on_the_wire(name: str) -> None:
    assert not processtypes.is_valid(name)
    with pytest.raises(pydantic.ValidationError):
        _WIRE.validate_python(name)


def test_the_pattern_alone_does_not_bound_the_length() -> None:
    assert processtypes.PATTERN.fullmatch("x" * 64)
    assert not processtypes.is_valid("x" * 64)


def test_the_wire_pattern_is_this_rule() -> None:
    assert f"^{processtypes.PATTERN.pattern}$" == wire.PROCESS_TYPE_PATTERN


def test_routable_types_match_their_literal() -> None:
    assert processtypes.ROUTABLE == ("web", "cmd")
    assert typing.get_args(processtypes.Routable) == processtypes.ROUTABLE


@pytest.mark.parametrize(
    ("types", "routed"),
    [
        ({"web": 1, "cmd": 1, "worker": 2}, "web"),
        ({"cmd": 0, "worker": 2}, "cmd"),
        (["worker", "cmd"], "cmd"),
        ({"worker": 1}, None),
        ({}, None),
    ],
)
def test_routed_prefers_web_then_cmd(types: typing.Iterable[str], routed: str | None) -> None:
    assert processtypes.routed(types) == routed
