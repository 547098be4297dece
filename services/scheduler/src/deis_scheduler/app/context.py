"""What every backend's use cases share: the settings and the NATS client the runner opened."""

from dataclasses import dataclass

import nats.js

from deis_scheduler.settings import SchedulerSettings


@dataclass(frozen=True)
class Context:
    """The scheduler's settings and JetStream, handed to the reconciler and every backend."""

    settings: SchedulerSettings
    js: nats.js.JetStreamContext
