"""Entry point: `deis-builder` serves `git push` over SSH until SIGTERM."""

import sys

from deis_builder import service
from deis_builder.settings import BuilderSettings


def main() -> None:
    """Run the builder; exit 0 on a clean stop."""
    sys.exit(service.run(BuilderSettings()))


if __name__ == "__main__":
    main()
