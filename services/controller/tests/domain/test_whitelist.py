"""Whitelist address checks (docs/api.md §2.11), including what nginx would misread."""

from typing import Any

import pytest

from deis_controller import errors
from deis_controller.domain import whitelist


def test_valid_addresses_are_kept_as_given_but_stripped() -> None:
    addresses = [
        "1.2.3.4",
        "0.0.0.0/0",
        "10.0.0.0/8",
        "192.168.1.7/24",
        " 172.16.0.1 ",
        "::1",
        "2001:DB8::/32",
        "fe80::1/64",
    ]

    assert whitelist.validate_addresses(addresses) == [
        "1.2.3.4",
        "0.0.0.0/0",
        "10.0.0.0/8",
        "192.168.1.7/24",
        "172.16.0.1",
        "::1",
        "2001:DB8::/32",
        "fe80::1/64",
    ]


def test_an_empty_list_is_valid() -> None:
    assert whitelist.validate_addresses([]) == []


def test_every_invalid_address_is_named_in_a_bare_list() -> None:
    with pytest.raises(errors.BareListError) as caught:
        whitelist.validate_addresses(["1.2.3.4", "bogus", "1.2.3.4/33", "::1"])

    assert caught.value.messages == [
        "The address bogus is not valid",
        "The address 1.2.3.4/33 is not valid",
    ]


@pytest.mark.parametrize(
    "address",
    [
        "",
        "example.com",
        "256.1.1.1",
        "1.2.3",
        "01.2.3.4",
        "fe80::1%eth0",
        "fe80::1%; deny all",
        "1.2.3.4/255.0.0.0",
        "1.2.3.4 5.6.7.8",
        "1.2.3.4;",
        "1.2.3.4\n;",
        "1.2.3.4/24\nallow all",
        "{1.2.3.4}",
        7,
        None,
        True,
        ["1.2.3.4"],
    ],
)
def test_invalid_addresses_are_refused(address: Any) -> None:
    with pytest.raises(errors.BareListError) as caught:
        whitelist.validate_addresses([address])

    shown = address.strip() if isinstance(address, str) else address
    assert caught.value.messages == [f"The address {shown} is not valid"]


@pytest.mark.parametrize(
    ("value", "type_name"),
    [("1.2.3.4", "str"), ({"a": 1}, "dict"), (None, "NoneType"), (("1.2.3.4",), "tuple")],
)
def test_a_non_list_is_refused(value: Any, type_name: str) -> None:
    with pytest.raises(errors.FieldErrors) as caught:
        whitelist.validate_addresses(value)

    assert caught.value.fields == {
        "addresses": [f'Expected a list of items but got type "{type_name}".']
    }
