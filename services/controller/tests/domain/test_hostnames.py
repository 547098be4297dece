"""Domain validation and its ACE normal form (docs/api.md §2.7), including hostile input."""

import pydantic
import pytest

from deis_controller import errors
from deis_controller.domain import hostnames
from deis_shared.kv import hosts


def _messages(value: str) -> list[str]:
    with pytest.raises(errors.FieldErrors) as caught:
        hostnames.normalize_domain(value)
    assert list(caught.value.fields) == ["domain"]
    return caught.value.fields["domain"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("domain", "domain"),
        ("django.paas-sandbox", "django.paas-sandbox"),
        ("3com.com", "3com.com"),
        ("3333.xyz", "3333.xyz"),
        ("MYDOMAIN.NET", "mydomain.net"),
        ("autotest.127.0.0.1.xip.io", "autotest.127.0.0.1.xip.io"),
        ("*.deis.example.com", "*.deis.example.com"),
        ("bücher.example", "xn--bcher-kva.example"),
        ("xn--bcher-kva.example", "xn--bcher-kva.example"),
        ("example.com.", "example.com"),
        ("  example.com ", "example.com"),
        ("\uff25\uff38\uff21\uff2d\uff30\uff2c\uff25.com", "example.com"),  # fullwidth
    ],
)
def test_accepted_domains_are_returned_in_ace_form(value: str, expected: str) -> None:
    result = hostnames.normalize_domain(value)

    assert result == expected
    assert pydantic.TypeAdapter(hosts.Domain).validate_python(result) == result


@pytest.mark.parametrize(
    "value",
    [
        "this_is_an.invalid.domain",
        "django.pa--assandbox",
        "a" * 64 + ".com",
        "a" * 300,
        "foo.*.bar.com",
        "*.*.example.com",
        "example.*",
        "a..b",
        ".example.com",
        "example.com..",
        "-example.com",
        "example-.com",
        "a b",
        "a;b",
        "a\nb",
        "example.com\n;",
        "{}",
        "a/b",
        "a\x00b",
        "café.example\u202e",
    ],
)
def test_invalid_domains_are_refused(value: str) -> None:
    (message,) = _messages(value)

    assert message.startswith("Hostname does not look valid")


def test_an_unconvertible_label_names_the_ace_failure() -> None:
    (message,) = _messages("this_is_an.invalid.domain")

    assert message.startswith(
        "Hostname does not look valid, could not convert to ACE this_is_an.invalid.domain: "
    )


@pytest.mark.parametrize("value", ["this-is-an.invalid.1", "10.0.0.1", "example.123."])
def test_an_all_digit_last_label_is_refused(value: str) -> None:
    assert _messages(value) == ["Hostname does not look valid."]


@pytest.mark.parametrize("value", ["*", "*."])
def test_a_bare_wildcard_is_refused(value: str) -> None:
    assert _messages(value) == ["Hostname can't only be a wildcard"]


@pytest.mark.parametrize("value", [".".join(["a"] * 128), ".".join(["abcdefghi"] * 26)])
def test_names_over_253_characters_are_refused(value: str) -> None:
    assert _messages(value) == ["Hostname must be 253 characters or less."]


def test_253_characters_are_enough() -> None:
    value = ".".join(["a" * 63] * 3 + ["b" * 61])

    assert len(value) == 253
    assert hostnames.normalize_domain(value) == value
    assert hostnames.normalize_domain(f"*.{value}") == f"*.{value}"


@pytest.mark.parametrize("value", ["", "   "])
def test_a_blank_domain_is_refused(value: str) -> None:
    assert _messages(value) == ["This field may not be blank."]


def test_to_unicode_shows_the_display_form() -> None:
    assert hostnames.to_unicode("*.xn--bcher-kva.example") == "*.bücher.example"
    assert hostnames.to_unicode("xn--zz.example") == "xn--zz.example"
