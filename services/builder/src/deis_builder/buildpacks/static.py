"""The static-site buildpack: a tree with an `index.html`, served as it is by Python's http.server.

Nothing is installed. The default `web` process serves the slug directory with the builder's
interpreter command (`python3`, found on the app sandbox's PATH), so a static site needs
nothing the host lacks. That server is plain
and single-purpose; a site that wants more declares its own `web` in a Procfile.
"""

import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Final

from deis_builder.buildpacks import output, sources
from deis_shared.sandbox import Sandbox

NAME: Final = "static"
LABEL: Final = "Static site"
SLUG_ENV: Final[dict[str, str]] = {}
NO_TYPES: Final = "no process types: add a Procfile, e.g. 'web: python3 -m http.server $PORT'"


def detects(app_dir: Path) -> bool:
    """Whether the push is a static site: it has `index.html`."""
    return sources.present(app_dir / "index.html")


def default_types(*, python: str) -> dict[str, str]:
    """`web: <python> -m http.server $PORT`, serving the slug directory."""
    return {"web": f"{shlex.quote(python)} -m http.server $PORT"}


async def compile_slug(
    *,
    app_dir: Path,  # noqa: ARG001 - one signature for all
    cache_dir: Path,  # noqa: ARG001
    sandbox: Sandbox,  # noqa: ARG001
    out: output.Output,
    env: Mapping[str, str],  # noqa: ARG001
    python: str,  # noqa: ARG001
) -> None:
    """Nothing to compile: the pushed tree is the slug."""
    await output.step(out, "Nothing to install")
