"""Entry point: `deis-router-agent` keeps nginx configured from KV until SIGTERM.

nginx runs on after SIGTERM, for the next agent to adopt; SIGUSR1 stops it too.
"""

import sys

from deis_router_agent import service
from deis_router_agent.settings import RouterSettings


def main() -> None:
    """Run the router agent; exit 0 on a clean stop."""
    sys.exit(service.run(RouterSettings()))


if __name__ == "__main__":
    main()
