"""A tiny service for the runner's process tests: `python service_main.py <mode>`.

Settings come from `DEIS_*` variables set by the test. Mode `serve` runs until SIGTERM;
mode `crash` has an eternal task that fails after start-up. Prints `started <health port>`
once serving so the test knows when to signal.
"""

import asyncio
import sys

from deis_shared import runner
from deis_shared.settings import ServiceSettings


async def _crash_soon() -> None:
    await asyncio.sleep(0.1)
    raise RuntimeError("worker lost its footing")


def main() -> int:
    mode = sys.argv[1]
    settings = ServiceSettings()
    service_runner = runner.ServiceRunner(settings, schema="probe", outbox=True)

    async def start(service: runner.Service) -> None:
        if mode == "crash":
            service.tasks.spawn(_crash_soon(), name="worker")
        else:
            service.tasks.spawn(asyncio.Event().wait(), name="idle-worker")
        assert service_runner.health_server is not None
        print(f"started {service_runner.health_server.port}", flush=True)  # noqa: T201

    return runner.run(service_runner, start)


if __name__ == "__main__":
    sys.exit(main())
