"""Entry point: `deis-scheduler` converges desired state into processes until SIGTERM."""

import sys

from deis_scheduler import service
from deis_scheduler.settings import SchedulerSettings


def main() -> None:
    """Run the scheduler; exit 0 on a clean stop."""
    sys.exit(service.run(SchedulerSettings()))


if __name__ == "__main__":
    main()
