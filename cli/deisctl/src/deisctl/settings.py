"""The one place `deisctl` reads its environment: it hands it on to what it starts."""

import os


def environment() -> dict[str, str]:
    """This process's environment (PATH, locale, `DEIS_S3_*` credentials, `DEIS_PYTHON`...)."""
    return dict(os.environ)
