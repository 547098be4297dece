"""Process types: the name rule every service checks, and which types receive traffic.

A process type is declared in a Procfile (`web: gunicorn app:app`) or implied (`cmd`, the
image's own command). Its name becomes part of process, Kubernetes object and DNS names
(`<app>-<type>`), so it is Deis's Procfile rule (docs/api.md §2.4): lowercase ASCII letters and
digits in runs joined by single dashes, at most 63 characters (one DNS label).

`web`, or `cmd` for an image without a Procfile, is the routable type: the one that gets a
port, a Service and the router's endpoints. An app has at most one of them routed, `web`
first.
"""

import re
from collections.abc import Iterable
from typing import Final, Literal

MAX_LENGTH: Final = 63
"""Longest process type name: one DNS label."""

PATTERN: Final = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*", re.ASCII)
"""The name rule's characters; match it with `fullmatch` (a `$` anchor would accept a final
newline). It does not bound the length: `is_valid` does both."""

Routable = Literal["web", "cmd"]
"""A process type that receives traffic."""

ROUTABLE: Final[tuple[Routable, ...]] = ("web", "cmd")
"""The routable process types, the one preferred first."""


def is_valid(name: str) -> bool:
    """Whether `name` is a valid process type: the character rule and at most 63 characters."""
    return len(name) <= MAX_LENGTH and PATTERN.fullmatch(name) is not None


def routed(types: Iterable[str]) -> Routable | None:
    """The type of `types` that gets the app's traffic: `web`, else `cmd`, else None.

    Args:
        types: process types, such as a formation's keys (a mapping is iterated by key).
    """
    present = set(types)
    return next((kind for kind in ROUTABLE if kind in present), None)
