"""The security boundary of the router: every value written into nginx configuration passes here.

Routes and endpoints are validated when they are decoded from KV (`deis_shared.kv.hosts`), but
a model can be built without validation and one app's routes share the configuration with every
other app's: a `;`, brace, quote, `$`, space or newline slipping through would let one app inject
directives (or read variables) into the shared router. So the renderer checks each value again,
here, against the same rules plus a final allow-list of characters, and refuses the whole app
on the first failure.
"""

import re

import pydantic

from deis_router_agent.errors import UnsafeValue
from deis_shared import appnames
from deis_shared.kv import hosts

_DOMAIN_CHARS = re.compile(r"(?:\*\.)?[a-z0-9.-]{1,253}", re.ASCII)
_HOST_CHARS = re.compile(r"[a-zA-Z0-9.:-]{1,253}", re.ASCII)
_NETWORK_CHARS = re.compile(r"[0-9a-fA-F.:]{1,45}(?:/[0-9]{1,3})?", re.ASCII)
_NAME_CHARS = re.compile(r"[a-z0-9-]{1,253}", re.ASCII)

_DOMAIN: pydantic.TypeAdapter[str] = pydantic.TypeAdapter(hosts.Domain)
_HOST: pydantic.TypeAdapter[str] = pydantic.TypeAdapter(hosts.Host)
_NETWORK: pydantic.TypeAdapter[str] = pydantic.TypeAdapter(hosts.WhitelistEntry)


def _check(value: object, *, adapter: pydantic.TypeAdapter[str], chars: re.Pattern[str]) -> str:
    if not isinstance(value, str) or chars.fullmatch(value) is None:
        raise UnsafeValue(f"refusing {value!r} in nginx configuration")
    try:
        return adapter.validate_python(value)
    except pydantic.ValidationError as error:
        raise UnsafeValue(f"refusing {value!r} in nginx configuration") from error


def app(value: object) -> str:
    """An app name, as it appears in file, upstream and variable names."""
    if not isinstance(value, str):
        raise UnsafeValue(f"refusing app name {value!r}")
    try:
        return appnames.validate_app_name(value)
    except appnames.InvalidAppName as error:
        raise UnsafeValue(str(error)) from error


def domain(value: object) -> str:
    """A `server_name`: a lowercase ACE hostname, optionally with a leading `*.`."""
    return _check(value, adapter=_DOMAIN, chars=_DOMAIN_CHARS)


def host(value: object) -> str:
    """An upstream host: an IP literal or a lowercase hostname."""
    return _check(value, adapter=_HOST, chars=_HOST_CHARS)


def network(value: object) -> str:
    """A whitelist entry: an IP address or network in prefix notation."""
    return _check(value, adapter=_NETWORK, chars=_NETWORK_CHARS)


def name(value: object) -> str:
    """A certificate name: it becomes part of a file name."""
    if not isinstance(value, str) or _NAME_CHARS.fullmatch(value) is None:
        raise UnsafeValue(f"refusing certificate name {value!r}")
    return value


def port(value: object) -> int:
    """A TCP port."""
    if type(value) is not int or not 1 <= value <= 65535:
        raise UnsafeValue(f"refusing port {value!r}")
    return value
