"""What every use case may reach: settings, the pool, password hashing, the NATS client."""

import asyncio
from dataclasses import dataclass, field

import asyncpg
import nats.aio.client

from deis_controller.domain.credentials import Passwords
from deis_controller.settings import ControllerSettings


@dataclass(frozen=True)
class Context:
    """The controller's resources, opened by the service runner and shared by requests."""

    settings: ControllerSettings
    pool: asyncpg.Pool
    passwords: Passwords
    nc: nats.aio.client.Client | None = None
    """For RPCs to the scheduler and the logger; `None` when running without NATS."""
    issuer_wake: asyncio.Event = field(default_factory=asyncio.Event)
    """Set to run the certificate issuer's next pass now (`workers.issuing`)."""
