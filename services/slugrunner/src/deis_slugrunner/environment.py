"""The app's environment: the pod's, less the runner's own inputs, plus the slug's.

The layers are the local scheduler's (`deis_scheduler.local.slugs.process_env`), later ones
winning: what the pod gives (the app's config), the slug's `env` from `.deis/slug.json` (each
`$HOME` there standing for the app directory, each `$PATH` for the PATH so far, or
`os.defpath` when there is none), `HOME`, then the variables Deis sets per process (`PORT`,
`DEIS_APP`, `WORKFLOW_RELEASE*`, `SOURCE_VERSION`), which a slug cannot override.

The runner's own inputs are dropped: the app never sees the object store's credentials or the
slug's key. A config variable named like one of them is dropped too (the pod's `envFrom` lets
config override the store's Secret, so such a name would misdirect the runner anyway).
"""

import os
import re
from collections.abc import Mapping
from typing import Final

DEIS_SET: Final = (
    "PORT",
    "DEIS_APP",
    "WORKFLOW_RELEASE",
    "WORKFLOW_RELEASE_SUMMARY",
    "WORKFLOW_RELEASE_CREATED",
    "SOURCE_VERSION",
)
"""What the scheduler sets for each process: applied last, as the local scheduler does."""

RUNNER_ONLY: Final = frozenset(
    {
        "DEIS_SLUG_KEY",
        "DEIS_COMMAND",
        "DEIS_OBJECT_STORE",
        "DEIS_OBJECT_STORE_ROOT",
        "DEIS_APP_DIR",
        "DEIS_SCRATCH_DIR",
        "DEIS_RUN_AS_USER",
        "DEIS_FETCH_ATTEMPTS",
    }
)
"""The runner's inputs, never passed to the app (with every `DEIS_S3_*`)."""

RUNNER_ONLY_PREFIXES: Final = ("DEIS_S3_",)

_HOME_REF: Final = re.compile(r"\$HOME(?![A-Za-z0-9_])")
_PATH_REF: Final = re.compile(r"\$PATH(?![A-Za-z0-9_])")


def is_runner_only(name: str) -> bool:
    """Whether `name` is one of the runner's inputs, kept from the app."""
    return name in RUNNER_ONLY or name.startswith(RUNNER_ONLY_PREFIXES)


def process_env(
    *, inherited: Mapping[str, str], slug_env: Mapping[str, str], home: str
) -> dict[str, str]:
    """Build the app process's whole environment.

    Args:
        inherited: the runner's environment (the pod's).
        slug_env: the `env` of the slug's `.deis/slug.json`, unexpanded.
        home: the app directory: `HOME`, and what `$HOME` in `slug_env` stands for.

    Returns:
        A new dict.
    """
    env = {name: value for name, value in inherited.items() if not is_runner_only(name)}
    for name, value in slug_env.items():
        with_home = _expanded(value, ref=_HOME_REF, to=home)
        env[name] = _expanded(with_home, ref=_PATH_REF, to=env.get("PATH", os.defpath))
    env["HOME"] = home
    env.update({name: inherited[name] for name in DEIS_SET if name in inherited})
    return env


def _expanded(value: str, *, ref: re.Pattern[str], to: str) -> str:
    # A function replacement, so that backslashes in `to` are taken literally.
    return ref.sub(lambda _: to, value)
