"""What runs on this host, written down so that a restarted scheduler can adopt it.

One file per app, `<data_dir>/records/<app>.json`, rewritten whole (temporary file, then
rename) after every change: which release runs, which versions failed, and each process with
its pid, its start time (so a reused pid is not mistaken for it) and everything needed to
restart it. These are facts about this host's processes, so they live on this host, beside
the processes, rather than in Postgres: a pid means nothing anywhere else.

A process is recorded with its role in the app's life:

- `live`: it belongs to the release being served; adopted and supervised again;
- `pending`: started by a rollout or scale-up that had not finished; killed on adoption (the
  reconcile that follows decides afresh);
- `retiring`: replaced, waiting to be stopped; killed on adoption.

The files hold the apps' config (environment variables): the directory is 0700 and each file
0600.
"""

import contextlib
import logging
import os
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from deis_shared import appnames

logger = logging.getLogger(__name__)

Role = Literal["live", "pending", "retiring"]


class ProcessRecord(BaseModel):
    """One process and how to start it again."""

    model_config = ConfigDict(frozen=True)

    type: str
    index: int
    release: int
    port: int
    role: Role
    pid: int | None
    """None when it was not running (crashed, waiting for its restart)."""
    start_ticks: int | None
    command: str
    cwd: Path
    env: dict[str, str]
    run_as: str | None = None
    """Who an unconfined process ran as (records of schedulers before the sandbox)."""
    sandboxed: bool = False
    """Whether it runs in a sandbox (bwrap leads its process group)."""
    memory: str | None
    cpu: str | None = None
    started: datetime | None
    restarts: int
    exit_code: int | None


class AppRecord(BaseModel):
    """Everything the scheduler knows about one app on this host."""

    model_config = ConfigDict(frozen=True)

    app: appnames.AppName
    version: int | None
    """The live release."""
    failed: list[int]
    """Releases whose rollout failed, not to be tried again."""
    restarts_seen: dict[str, int] | None
    """The desired state's restart counters already acted on."""
    processes: list[ProcessRecord]


class Records:
    """The record files under one directory."""

    def __init__(self, root: Path) -> None:
        """Keep records under `root` (created 0700 on first save)."""
        self.root = root

    def path(self, app: str) -> Path:
        """The record file of `app` (validated)."""
        return self.root / f"{appnames.validate_app_name(app)}.json"

    def save(self, record: AppRecord) -> None:
        """Write `record` whole, replacing the app's previous one atomically."""
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        target = self.path(record.app)
        scratch = target.with_suffix(".tmp")
        fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "w") as file:
            file.write(record.model_dump_json())
        scratch.replace(target)

    def remove(self, app: str) -> None:
        """Forget `app`; forgetting an unknown app is not an error."""
        with contextlib.suppress(FileNotFoundError):
            self.path(app).unlink()

    def load(self) -> list[AppRecord]:
        """Every app's record; unreadable or foreign files are logged and skipped."""
        if not self.root.is_dir():
            return []
        found = []
        for path in sorted(self.root.glob("*.json")):
            try:
                record = AppRecord.model_validate_json(path.read_bytes())
            except (OSError, ValidationError) as exc:
                logger.error("ignoring the process record %s: %s", path, exc)
                continue
            if path != self.path(record.app):
                logger.error("ignoring the process record %s: it is about %s", path, record.app)
                continue
            found.append(record)
        return found
