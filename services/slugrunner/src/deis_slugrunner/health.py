"""The image's HEALTHCHECK: has the app started, and does a routable one accept connections?

The runner leaves a marker in its scratch directory just before it becomes the app; until then
(fetching, unpacking) the container is not healthy. After it, a routable process type (`web`,
or `cmd`, as the scheduler routes them) is healthy while something accepts connections on
`$PORT`; other types while they run. Kubernetes ignores image health checks (the pod's probes,
from `deis healthchecks`, decide there); this serves `docker run` and compose.
"""

import json
import socket
from pathlib import Path
from typing import Final

from deis_shared import processtypes

MARKER: Final = ".deis-slugrunner-started"
"""The marker's name in the scratch directory."""


def mark_started(scratch: Path, *, process_type: str) -> None:
    """Record that the app of `process_type` is being started."""
    (scratch / MARKER).write_text(json.dumps({"type": process_type}))


def healthy(scratch: Path, *, port: str | None, host: str = "127.0.0.1") -> bool:
    """Whether the app has started and, if routable, accepts connections on `port`."""
    try:
        started = json.loads((scratch / MARKER).read_text())
    except (OSError, ValueError):
        return False
    routable = isinstance(started, dict) and started.get("type") in processtypes.ROUTABLE
    if not routable or not port:
        return isinstance(started, dict)
    try:
        with socket.create_connection((host, int(port)), timeout=2.0):
            return True
    except (OSError, ValueError):
        return False
