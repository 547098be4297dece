"""Hostnames, domains and addresses as the routing buckets accept them.

These values end up verbatim in nginx configuration (`server_name`, `allow`, `proxy_pass`
upstreams), so they are validated strictly here: a `;`, space, brace or newline slipping through
would let one app inject directives into the shared router.
"""

import ipaddress
import re
from typing import Annotated

from pydantic import AfterValidator, Field

_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_HOSTNAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*", re.ASCII)
# `ipaddress` accepts IPv6 scope ids (`fe80::1%<anything>`, including `;` and spaces) and
# netmask suffixes nginx does not take, so only plain literals and prefix lengths get through.
_IP_LITERAL = re.compile(r"[0-9a-fA-F.:]+", re.ASCII)
_IP_NETWORK = re.compile(r"[0-9a-fA-F.:]+(?:/[0-9]{1,3})?", re.ASCII)


def _check_hostname(value: str) -> str:
    if len(value) > 253 or _HOSTNAME.fullmatch(value) is None:
        raise ValueError(f"{value!r} is not a lowercase ASCII (ACE) hostname")
    return value


def _check_domain(value: str) -> str:
    _check_hostname(value.removeprefix("*."))
    return value


def _check_host(value: str) -> str:
    if _IP_LITERAL.fullmatch(value) is None:
        return _check_hostname(value)
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return _check_hostname(value)
    return value


def _check_whitelist_entry(value: str) -> str:
    try:
        if _IP_NETWORK.fullmatch(value) is None:
            raise ValueError(value)
        ipaddress.ip_interface(value)
    except ValueError as error:
        raise ValueError(f"{value!r} is not an IP address or network") from error
    return value


Domain = Annotated[str, AfterValidator(_check_domain), Field(max_length=255)]
"""A domain in ACE form (`xn--…`), lowercase, optionally with a leading `*.` wildcard label."""

Host = Annotated[str, AfterValidator(_check_host), Field(max_length=253)]
"""An IP address (v4 or v6) or a lowercase hostname: where an upstream listens."""

WhitelistEntry = Annotated[str, AfterValidator(_check_whitelist_entry), Field(max_length=64)]
"""An IPv4/IPv6 address or network (`1.2.3.4`, `10.0.0.0/8`, `::1/128`), as nginx `allow` takes."""
