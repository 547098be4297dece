"""What the builder's use cases share: settings and the clients the service runner opened."""

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from deis_builder.app.prereceive import HookServer
from deis_builder.settings import BuilderSettings
from deis_shared.bus import connection
from deis_shared.objectstore.base import ObjectStore
from deis_shared.sandbox import UidTable


@dataclass(frozen=True)
class Context:
    """The builder's settings and clients, handed to every use case."""

    settings: BuilderSettings
    pool: asyncpg.Pool
    nc: connection.Client
    js: connection.JetStream
    store: ObjectStore
    hooks: HookServer
    env: Mapping[str, str]
    """Environment of git, which runs as the builder (`settings.git_environment()`)."""
    build_env: Mapping[str, str]
    """What builds get of the builder's environment: the locale and zone, and the operator's
    `build_env` (`settings.build_environment()`); the sandbox adds PATH and HOME."""
    python: str
    """The interpreter of Python builds: `settings.python`, or `python3`, found in the build's
    sandbox."""
    uids: UidTable | None
    """The user ids of builds, one per app; None when the builder is not root (builds run as
    its own user id)."""

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
