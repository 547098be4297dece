"""deis_shared: the library every Deis service imports.

Services import modules (`from deis_shared.bus import watching`); the names below are the few
that nearly every service's `main()` needs. Nothing connects at import time, and importing a
small module (`deis_shared.binaries`, `deis_shared.appnames`) loads nothing else: the names
below are looked up on first use (`from deis_shared import run` imports the runner, and with
it asyncpg, NATS, uvicorn and the object store's client, only then).
"""

import importlib as _importlib
import typing as _typing

if _typing.TYPE_CHECKING:
    from deis_shared.errors import DeisError, PermanentError, TransientError
    from deis_shared.runner import Service, ServiceRunner, run
    from deis_shared.settings import ServiceSettings

__all__ = [
    "DeisError",
    "PermanentError",
    "Service",
    "ServiceRunner",
    "ServiceSettings",
    "TransientError",
    "run",
]

_HOMES = {
    "DeisError": "deis_shared.errors",
    "PermanentError": "deis_shared.errors",
    "TransientError": "deis_shared.errors",
    "Service": "deis_shared.runner",
    "ServiceRunner": "deis_shared.runner",
    "run": "deis_shared.runner",
    "ServiceSettings": "deis_shared.settings",
}
"""The module each name of `__all__` comes from, imported when the name is first asked for."""


def __getattr__(name: str) -> _typing.Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(_importlib.import_module(home), name)
    globals()[name] = value  # later lookups find it without this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
