"""The slug runner's settings, from `DEIS_*` variables, and the environment it passes on.

The pod's environment (see `deis_scheduler.kubernetes.manifests.pod_spec`) is both: the runner's
own inputs (`DEIS_SLUG_KEY`, `DEIS_COMMAND`, the `slug-store` Secret's `DEIS_OBJECT_STORE` and
`DEIS_S3_*`) and what the app gets (its config, `PORT`, `DEIS_APP`, `WORKFLOW_RELEASE*`,
`SOURCE_VERSION`). This module is the only one that reads it.
"""

import os
from pathlib import Path

from pydantic import Field

from deis_shared.settings import ServiceSettings


class RunnerSettings(ServiceSettings):
    """What the runner fetches, where it unpacks it, and who it runs the command as."""

    service_name: str = "slugrunner"

    slug_key: str = ""
    """Object-store key of the release's slug (`slugs/<app>/<sha>.tar.gz`); required."""

    command: str = ""
    """The process type's command line, run by `/bin/sh -c`; empty means the slug's own
    `process_types` entry for the type (`.deis/slug.json`)."""

    app_dir: Path = Path("/app")
    """Where the slug is unpacked: the app's `HOME` and working directory (an `emptyDir`)."""

    scratch_dir: Path = Path("/tmp")
    """Where the slug's tarball is downloaded (and removed after unpacking)."""

    run_as_user: int = Field(default=1000, ge=1)
    """User and group id to switch to when started as root; the app never runs as root."""

    fetch_attempts: int = Field(default=6, ge=1)
    """Tries to reach an unreachable object store, one second apart and doubling (31 s in all
    for 6), before the runner exits and leaves the retrying to the pod's restart policy."""


def process_environment() -> dict[str, str]:
    """The runner's whole environment: what the app's environment is made from."""
    return dict(os.environ)
