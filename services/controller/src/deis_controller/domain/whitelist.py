"""Addresses allowed to reach an app: checking a posted whitelist (docs/api.md §2.11).

Entries end up in the router's nginx `allow` lines, so each must also be what the routing
bucket's `WhitelistEntry` accepts: Python's `ipaddress` alone would let through IPv6 scope ids
(`fe80::1%<anything>`) and netmask suffixes (`1.2.3.4/255.0.0.0`) nginx does not take.
"""

import ipaddress
from typing import Any

import pydantic

from deis_controller import errors
from deis_shared.kv import hosts

_ROUTABLE: pydantic.TypeAdapter[str] = pydantic.TypeAdapter(hosts.WhitelistEntry)


def _is_valid(address: Any) -> bool:
    if not isinstance(address, str):
        return False
    try:
        ipaddress.ip_interface(address)
        _ROUTABLE.validate_python(address)
    except (ValueError, pydantic.ValidationError):
        return False
    return True


def validate_addresses(addresses: Any) -> list[str]:
    """The posted addresses, each stripped, if every one is an IPv4/IPv6 address or network.

    Raises:
        FieldErrors: On `addresses` when it is not a list.
        BareListError: "The address X is not valid" for each invalid entry, as Deis answers.
    """
    if not isinstance(addresses, list):
        raise errors.FieldErrors.one(
            "addresses", f'Expected a list of items but got type "{type(addresses).__name__}".'
        )
    stripped = [item.strip() if isinstance(item, str) else item for item in addresses]
    invalid = [f"The address {item} is not valid" for item in stripped if not _is_valid(item)]
    if invalid:
        raise errors.BareListError(invalid)
    return [str(item) for item in stripped]
