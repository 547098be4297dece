"""What the builder's use cases share: settings and the clients the service runner opened."""

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import nats.aio.client
import nats.js

from deis_builder.app.hooks import HookServer
from deis_builder.settings import BuilderSettings
from deis_shared.objectstore.base import ObjectStore


@dataclass(frozen=True)
class Context:
    """The builder's settings and clients, handed to every use case."""

    settings: BuilderSettings
    pool: asyncpg.Pool
    nc: nats.aio.client.Client
    js: nats.js.JetStreamContext
    store: ObjectStore
    hooks: HookServer
    env: Mapping[str, str]
    """Base environment of git and build commands (`settings.build_environment()`)."""
    python: str
    """The interpreter of Python builds: `settings.python`, or the one found at start-up."""

    @property
    def repos(self) -> Path:
        """Directory of the bare repositories."""
        return self.settings.data_dir / "repos"

    @property
    def caches(self) -> Path:
        """Directory of the per-app build caches."""
        return self.settings.data_dir / "cache"

    @property
    def scratch(self) -> Path:
        """Directory of builds in progress, emptied at start-up."""
        return self.settings.data_dir / "builds"
