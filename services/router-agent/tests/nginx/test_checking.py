"""`nginx -t` as a subprocess: a check cancelled midway ends its process with it."""

import asyncio
import gc
import os
from pathlib import Path

import pytest

from deis_router_agent.nginx import checking


async def test_a_cancelled_check_ends_its_process(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    slow = tmp_path / "slow-nginx"
    slow.write_text(f"#!/bin/sh\necho $$ > {pidfile}\nexec sleep 30\n")
    slow.chmod(0o755)
    task = asyncio.create_task(
        checking.check(binary=str(slow), prefix=tmp_path, conf=tmp_path / "nginx.conf")
    )
    for _ in range(1000):  # the script writes its pid first thing
        if pidfile.exists() and pidfile.read_text().strip():
            break
        await asyncio.sleep(0.01)
    pid = int(pidfile.read_text())

    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    with pytest.raises(ProcessLookupError):  # killed and reaped, not left to the loop's end
        os.kill(pid, 0)
    gc.collect()  # an unclosed transport would warn here, which the suite turns into a failure
