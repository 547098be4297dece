"""What every backend's use cases share: the settings and the NATS client the runner opened."""

from dataclasses import dataclass

from deis_scheduler.settings import SchedulerSettings
from deis_shared.bus import connection


@dataclass(frozen=True)
class Context:
    """The scheduler's settings and JetStream, handed to the reconciler and every backend."""

    settings: SchedulerSettings
    js: connection.JetStream
