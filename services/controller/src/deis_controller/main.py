"""Entry point: `deis-controller` runs the REST API, the builder RPCs and the build consumer."""

import sys

from deis_controller import service
from deis_controller.settings import ControllerSettings


def main() -> None:
    """Run the controller until SIGTERM; exit 0 on a clean stop."""
    settings = ControllerSettings()
    sys.exit(service.run(settings))


if __name__ == "__main__":
    main()
