"""App names for new apps and generated names (docs/api.md §2.2), including hostile names."""

import random
import re
from typing import Any

import pytest

from deis_controller import errors
from deis_controller.domain import appids

BAD_NAME = (
    "App name must start with an alphabetic character, cannot end with a hyphen and can only"
    " contain a-z (lowercase), 0-9 and hyphens."
)


def _messages(value: Any, *, reserved: tuple[str, ...] = ()) -> dict[str, list[str]]:
    with pytest.raises(errors.FieldErrors) as caught:
        appids.validate_new_app_id(value, reserved=reserved)
    return caught.value.fields


@pytest.mark.parametrize("value", ["a", "golden-eggplant", "app2", "a-b-c", "a" * 63, " web "])
def test_valid_names(value: str) -> None:
    assert appids.validate_new_app_id(value, reserved=("deis",)) == value.strip()


@pytest.mark.parametrize(
    "value",
    [
        "2app",
        "-app",
        "app-",
        "App",
        "my_app",
        "my.app",
        "my app",
        "app\nx",
        "app/../x",
        "app*",
        "app>",
        "ápp",
        "app\x00",
        "a;rm -rf",
    ],
)
def test_invalid_names(value: str) -> None:
    assert _messages(value) == {"id": [BAD_NAME]}


def test_names_over_63_characters_are_refused() -> None:
    assert _messages("a" * 64) == {"id": ["Ensure this field has no more than 63 characters."]}


@pytest.mark.parametrize("value", ["", "   "])
def test_blank_names_are_refused(value: str) -> None:
    assert _messages(value) == {"id": ["This field may not be blank."]}


@pytest.mark.parametrize("value", [None, 5, ["app"], {"id": "app"}])
def test_non_strings_are_refused(value: Any) -> None:
    assert _messages(value) == {"id": ["Not a valid string."]}


def test_reserved_names_are_refused() -> None:
    reserved = ("deis", "deis-builder", "grafana")

    assert _messages("deis-builder", reserved=reserved) == {
        "id": ["deis-builder is a reserved name."]
    }
    assert appids.validate_new_app_id("deis-web", reserved=reserved) == "deis-web"


def test_word_lists() -> None:
    assert len(set(appids.ADJECTIVES)) >= 60
    assert len(set(appids.NOUNS)) >= 60
    for word in (*appids.ADJECTIVES, *appids.NOUNS):
        assert re.fullmatch(r"[a-z]+", word), word


def test_generated_names_are_valid_and_seedable() -> None:
    names = [appids.generate_app_id(rng=random.Random(seed)) for seed in range(200)]

    for name in names:
        adjective, noun = name.split("-")
        assert adjective in appids.ADJECTIVES
        assert noun in appids.NOUNS
        assert appids.validate_new_app_id(name, reserved=()) == name
    assert len(set(names)) > 100
    assert names[0] == appids.generate_app_id(rng=random.Random(0))


def test_generated_names_without_a_seed_vary() -> None:
    assert len({appids.generate_app_id() for _ in range(50)}) > 1
