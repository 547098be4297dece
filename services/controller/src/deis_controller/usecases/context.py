"""What every use case may reach: settings, the pool, password hashing, the NATS client."""

import asyncio
from dataclasses import dataclass, field

import asyncpg

from deis_controller.domain.credentials import Passwords
from deis_controller.settings import ControllerSettings
from deis_shared.bus import connection


@dataclass(frozen=True)
class Context:
    """The controller's resources, opened by the service runner and shared by requests."""

    settings: ControllerSettings
    pool: asyncpg.Pool
    passwords: Passwords
    nc: connection.Client | None = None
    """For RPCs to the scheduler and the logger; `None` when running without NATS."""
    issuer_wake: asyncio.Event = field(default_factory=asyncio.Event)
    """Set to run the certificate issuer's next pass now (`workers.issuing`)."""
