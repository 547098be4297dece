"""Sandbox benchmark: what starting a process in its app's sandbox costs.

Run: `uv run python bench/sandbox.py` (as root, the sandbox then runs as an app's own user
id). Prints the median of 50 starts of `true`, through `/bin/sh -c` as the local backend
starts app processes: unconfined (the baseline, as apps ran before issue 15) and in a sandbox
made by `deis_shared.sandbox.confine` (prlimit, then bubblewrap with its namespaces, mounts and
process cap).

Target: well under the local backend's readiness polling (a rollout waits for a port anyway),
say under 50 ms.
"""

import os
import statistics
import subprocess
import time

from deis_shared import sandbox

RUNS = 50


def started(argv: list[str], confined: sandbox.Confined | None = None) -> float:
    began = time.perf_counter()
    subprocess.run(
        argv,
        check=True,
        env={"PATH": sandbox.SYSTEM_PATH},
        user=confined.uid if confined else None,
        group=confined.gid if confined else None,
        extra_groups=[] if confined and confined.uid is not None else None,
    )
    return time.perf_counter() - began


def main() -> None:
    box = sandbox.Sandbox(
        uid=231_900 if os.geteuid() == 0 else None,
        mounts=(),
        workdir="/",
        hostname="bench",
        max_processes=1024,
        memory_bytes=512 << 20,
    )
    command = ["/bin/sh", "-c", "true"]
    confined = sandbox.confine(command, box)
    plain = statistics.median(started(command) for _ in range(RUNS))
    boxed = statistics.median(started(confined.argv, confined) for _ in range(RUNS))
    print(f"process start, median of {RUNS}:")
    print(f"  unconfined (baseline)   {plain * 1000:6.1f} ms")
    print(f"  in its sandbox          {boxed * 1000:6.1f} ms")


if __name__ == "__main__":
    main()
