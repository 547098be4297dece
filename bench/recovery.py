"""Recovery benchmark: a controller killed while it holds a completed build, and the push.

Run: `uv run python -m bench.recovery` (as root, like `deisctl up`). Starts the platform with
`deisctl up -d`, creates a Python app and pushes it once. Then, for each measured push, it holds
an exclusive lock on the controller's `releases` table (as the platform's PostgreSQL superuser),
so that the controller's handler of the push's `build.completed` event blocks midway with the
event delivered and not acknowledged, and:

- baseline: releases the lock: the handler goes on, and the push ends;
- recovery: kills the controller (SIGKILL) while it waits, then releases the lock; `deisctl`'s
  supervisor starts a new controller, which gets the event again once the server's `ack_wait`
  (3 s) has passed since the dead one's last "in progress", and the push ends.

Prints, per case, the seconds from the release of the lock (baseline) or from the new
controller being ready (recovery) to `git push` returning, which it does once the new release
is served. Before issue 19 the recovery took about 35 s (a 30 s `ack_wait`).

Target: recovery at most 5 s from the restart to the push finishing.
"""

import asyncio
import json
import os
import shutil
import signal
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import httpx

from bench.pushing import APP, pushed_app, run

RUNS = 3


def state(data: Path) -> dict[str, object]:
    return dict(json.loads((data / "run" / "state.json").read_text()))


def pid_of(data: Path, service: str) -> int:
    processes = state(data)["processes"]
    assert isinstance(processes, dict)
    return int(processes[service])


def environment(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


class Push(threading.Thread):
    """`git push` in the background; `ended` once it returned."""

    def __init__(self, push: Callable[[], object]) -> None:
        super().__init__(daemon=True)
        self.push = push
        self.ended: float | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.push()
            self.ended = time.monotonic()
        except BaseException as exc:  # noqa: BLE001 -- reported by the main thread
            self.error = exc


async def blocked(conn: asyncpg.Connection) -> bool:
    """Whether another session waits for a lock (the controller's handler)."""
    waiting = await conn.fetchval(
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
        " AND pid <> pg_backend_pid()"
    )
    return bool(waiting)


async def one_push(
    *, data: Path, api: int, superuser_url: str, push: Callable[[], object], kill: bool
) -> tuple[float, float]:
    """Seconds to the push's end: from the lock's release (or the new controller's start),
    and from the lock's release (or the kill)."""
    conn = await asyncpg.connect(superuser_url)
    try:
        lock = conn.transaction()
        await lock.start()
        await conn.execute("LOCK TABLE controller.releases IN ACCESS EXCLUSIVE MODE")
        pushing = Push(push)
        pushing.start()
        async with asyncio.timeout(120):
            while not await blocked(conn):  # noqa: ASYNC110 -- polls the server's state
                await asyncio.sleep(0.05)
        old = pid_of(data, "controller")
        if kill:
            os.kill(old, signal.SIGKILL)
        await lock.rollback()
        released = time.monotonic()
    finally:
        await conn.close()
    start = time.monotonic()
    if kill:
        async with asyncio.timeout(60):
            while True:
                try:
                    if pid_of(data, "controller") != old:
                        async with httpx.AsyncClient(timeout=1) as client:
                            answer = await client.get(f"http://127.0.0.1:{api}/healthz")
                            if answer.status_code < 500:
                                break
                except (httpx.HTTPError, KeyError, ValueError, OSError):
                    pass
                await asyncio.sleep(0.05)
        start = time.monotonic()
    await asyncio.to_thread(pushing.join, 180)
    if pushing.error is not None or pushing.ended is None:
        raise RuntimeError(f"the push did not finish: {pushing.error}")
    return pushing.ended - start, pushing.ended - released


async def measure(work: Path) -> tuple[list[float], list[float], list[float]]:
    with pushed_app(work) as app:
        data, api, copy, env, remote = app.data, app.api, app.copy, app.env, app.remote
        database = urlsplit(environment(pid_of(data, "controller"))["DEIS_DATABASE_URL"])
        password = (data / "secrets" / "postgres").read_text().strip()
        superuser = f"postgresql://postgres:{password}@127.0.0.1:{database.port}/postgres"
        baseline: list[float] = []
        recovery: list[float] = []
        since_kill: list[float] = []
        for n in range(2 * RUNS):
            (copy / "app.py").write_text(APP.format(text=f"version {n}\n"))
            run("git", "commit", "-qam", f"change {n}", cwd=copy, env=env)

            def push() -> None:
                run("git", "push", "-q", remote, "main", cwd=copy, env=env)

            kill = n % 2 == 1
            seconds = await one_push(
                data=data, api=api, superuser_url=superuser, push=push, kill=kill
            )
            (recovery if kill else baseline).append(seconds[0])
            if kill:
                since_kill.append(seconds[1])
        return baseline, recovery, since_kill


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="deis-bench-recovery-", dir="/tmp"))
    work.chmod(0o755)
    try:
        baseline, recovery, since_kill = asyncio.run(measure(work))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("a push whose build.completed the controller held, to git push returning:")
    for label, runs in (
        ("lock released, no kill (baseline)", baseline),
        ("controller killed, from its restart", recovery),
        ("controller killed, from the kill", since_kill),
    ):
        listed = ", ".join(f"{s:.2f}" for s in runs)
        print(f"  {label:<37} p50 {statistics.median(runs):5.2f} s  ({listed})")
    print("  target: at most 5 s from the restart")


if __name__ == "__main__":
    main()
