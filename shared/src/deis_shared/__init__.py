"""deis_shared: the library every Deis service imports.

Services import modules (`from deis_shared.bus import watching`); the names below are the few
that nearly every service's `main()` needs. Nothing connects at import time.
"""

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
