"""Entry point: `deis-scheduler` converges desired state into processes until SIGTERM.

`deis-scheduler stop-apps` instead stops the app processes the data dir's records name, for
when no scheduler runs (`deisctl down` runs it once the services have stopped).
"""

import argparse
import sys

from deis_scheduler import service
from deis_scheduler.settings import SchedulerSettings


def main() -> None:
    """Run the scheduler (or `stop-apps`); exit 0 on a clean stop."""
    parser = argparse.ArgumentParser(prog="deis-scheduler", description=__doc__)
    parser.add_argument("command", nargs="?", choices=["stop-apps"])
    command = parser.parse_args().command
    settings = SchedulerSettings()
    sys.exit(service.stop_apps(settings) if command == "stop-apps" else service.run(settings))


if __name__ == "__main__":
    main()
