"""Entry point: `deis-logger` keeps, tails and archives log lines until SIGTERM."""

import sys

from deis_logger import service
from deis_logger.settings import LoggerSettings


def main() -> None:
    """Run the logger; exit 0 on a clean stop."""
    sys.exit(service.run(LoggerSettings()))


if __name__ == "__main__":
    main()
