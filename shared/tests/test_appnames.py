"""Hostile-input tests of the app-name boundary: names reach NATS subjects, paths and nginx."""

import pydantic
import pytest

from deis_shared import appnames, errors

VALID = [
    "a",
    "myapp",
    "my-app",
    "golden-eggplant",
    "app1",
    "a1-b2-c3",
    "a--b",  # Deis's rule allows inner double hyphens (so do DNS labels: `xn--`)
    "a" * 63,
    "x" + "-0" * 31,
]

HOSTILE = [
    pytest.param("", id="empty"),
    pytest.param("a" * 64, id="64-chars"),
    pytest.param("a" * 10_000, id="huge"),
    pytest.param("my.app", id="dot"),
    pytest.param(".", id="lone-dot"),
    pytest.param("..", id="dotdot"),
    pytest.param("../etc", id="traversal"),
    pytest.param("app/..", id="slash-dotdot"),
    pytest.param("my/app", id="slash"),
    pytest.param("/myapp", id="leading-slash"),
    pytest.param("my\\app", id="backslash"),
    pytest.param("*", id="star"),
    pytest.param("my*", id="trailing-star"),
    pytest.param(">", id="gt"),
    pytest.param("app.>", id="subject-tail-wildcard"),
    pytest.param("a.*.b", id="subject-token-wildcard"),
    pytest.param("my app", id="space"),
    pytest.param(" myapp", id="leading-space"),
    pytest.param("myapp ", id="trailing-space"),
    pytest.param("myapp\n", id="trailing-newline"),
    pytest.param("my\napp", id="newline"),
    pytest.param("my\tapp", id="tab"),
    pytest.param("myapp\r", id="cr"),
    pytest.param("my\x00app", id="nul"),
    pytest.param("myapp\x00", id="trailing-nul"),
    pytest.param("MyApp", id="uppercase"),
    pytest.param("MYAPP", id="all-uppercase"),
    pytest.param("1app", id="leading-digit"),
    pytest.param("123", id="digits-only"),
    pytest.param("-app", id="leading-hyphen"),
    pytest.param("app-", id="trailing-hyphen"),
    pytest.param("-", id="lone-hyphen"),
    pytest.param("my_app", id="underscore"),
    pytest.param("app;rm", id="semicolon"),
    pytest.param("app$(id)", id="command-substitution"),
    pytest.param("app`id`", id="backtick"),
    pytest.param("app'", id="quote"),
    pytest.param('app"', id="double-quote"),
    pytest.param("app{}", id="braces"),
    pytest.param("app:1", id="colon"),
    pytest.param("app@x", id="at"),
    pytest.param("app%2e", id="percent-encoding"),
    pytest.param("\uff41pp", id="fullwidth-a"),
    pytest.param("\u0430pp", id="cyrillic-a"),
    pytest.param("app\u200b", id="zero-width-space"),
    pytest.param("app\u00a0", id="nbsp"),
    pytest.param("ap\u0301p", id="combining-accent"),
    pytest.param("café", id="latin-accent"),
    pytest.param("app\u2024x", id="one-dot-leader"),
    pytest.param("app\uff0ex", id="fullwidth-dot"),
    pytest.param("app\u2215x", id="division-slash"),
    pytest.param("ǅ", id="titlecase-digraph"),
    pytest.param("app\u0661", id="arabic-digit"),
]


@pytest.mark.parametrize("name", VALID)
def test_valid_names_are_returned_unchanged(name: str) -> None:
    assert appnames.validate_app_name(name) is name


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_names_are_refused_with_one_line_reason(name: str) -> None:
    with pytest.raises(appnames.InvalidAppName) as caught:
        appnames.validate_app_name(name)
    reason = str(caught.value)
    assert reason
    assert "\n" not in reason


def test_invalid_app_name_is_permanent() -> None:
    assert issubclass(appnames.InvalidAppName, errors.PermanentError)


def test_reasons_name_the_broken_rule() -> None:
    with pytest.raises(appnames.InvalidAppName, match="empty"):
        appnames.validate_app_name("")
    with pytest.raises(appnames.InvalidAppName, match="64 characters long; the limit is 63"):
        appnames.validate_app_name("a" * 64)
    with pytest.raises(appnames.InvalidAppName, match="start with a letter"):
        appnames.validate_app_name("my.app")


@pytest.mark.parametrize("name", VALID)
def test_pattern_agrees_with_validator(name: str) -> None:
    assert appnames.APP_NAME_PATTERN.fullmatch(name)


class _Holder(pydantic.BaseModel):
    app: appnames.AppName


@pytest.mark.parametrize("name", HOSTILE)
def test_app_name_field_refuses_hostile_names(name: str) -> None:
    with pytest.raises(pydantic.ValidationError, match="app"):
        _Holder(app=name)


def test_app_name_field_accepts_valid_name_and_documents_rule() -> None:
    assert _Holder(app="my-app").app == "my-app"
    schema = _Holder.model_json_schema()["properties"]["app"]
    assert schema["maxLength"] == 63
    assert schema["pattern"] == "^[a-z](?:[a-z0-9-]*[a-z0-9])?$"
