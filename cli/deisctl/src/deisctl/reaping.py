"""The backstop of stopping the platform: no app process outlives it.

Stopped with `platform.SCHEDULER_STOP_APPS`, the scheduler stops the app processes itself. A
scheduler that was dead at that moment (crashed, waiting for its restart), or killed for taking
too long, leaves them running: they are made to outlive it. So once the services are down,
`stop_leftover_apps` runs `deis-scheduler stop-apps` (as `python -m deis_scheduler.main`, since
`deisctl` may not import a service): it reads the scheduler's process records under
`<data>/scheduler/records/` and stops each process still running as recorded. Which pid may
be signalled is decided there, by the records' start times, not here.
"""

import subprocess
import sys
from collections.abc import Mapping

from deisctl.errors import CtlError
from deisctl.layout import Layout

TIMEOUT = 60.0
"""Seconds the command may take (its own grace period is the scheduler's `DEIS_STOP_GRACE`)."""


def stop_leftover_apps(layout: Layout, *, environ: Mapping[str, str]) -> list[str]:
    """Stop the app processes the scheduler's records under `layout` still name.

    Args:
        layout: the data dir.
        environ: the environment to run the command with (`DEIS_*` variables are replaced).

    Returns:
        One line per process that was still running and is stopped now.

    Raises:
        CtlError: the command failed or did not finish in time.
    """
    env = {
        **{k: v for k, v in environ.items() if not k.startswith("DEIS_")},
        "DEIS_DATA_DIR": str(layout.service("scheduler")),
        "DEIS_LOG_JSON": "false",
    }
    command = [sys.executable, "-m", "deis_scheduler.main", "stop-apps"]
    try:
        done = subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired:
        raise CtlError(f"stopping the apps' processes took more than {TIMEOUT:.0f} s") from None
    if done.returncode != 0:
        raise CtlError(f"stopping the apps' processes failed:\n{done.stderr.strip()}")
    return done.stdout.splitlines()
