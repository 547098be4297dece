"""The runner as a real process: SIGTERM closes everything and exits 0; a dead task exits 1."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import asyncpg
import pytest

SCRIPT = Path(__file__).with_name("service_main.py")


def _start(mode: str, *, dsn: str, nats_url: str, root: Path) -> subprocess.Popen[str]:
    env = {
        "PATH": "/usr/bin:/bin",
        "DEIS_SERVICE_NAME": "probe",
        "DEIS_DATABASE_URL": dsn,
        "DEIS_NATS_URL": nats_url,
        "DEIS_OBJECT_STORE_ROOT": str(root / "objects"),
        "DEIS_HEALTH_PORT": "0",
        "DEIS_SHUTDOWN_TIMEOUT": "10",
        "DEIS_LOG_JSON": "true",
    }
    return subprocess.Popen(
        [sys.executable, str(SCRIPT), mode],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_started(proc: subprocess.Popen[str]) -> int:
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("started "):
        proc.kill()
        _, err = proc.communicate()
        pytest.fail(f"service did not start: {line!r}\n{err}")
    return int(line.split()[1])


async def _connections(dsn: str) -> int:
    database = dsn.rsplit("/", 1)[1]
    conn = await asyncpg.connect(dsn)
    try:
        count: int = await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            database,
        )
    finally:
        await conn.close()
    return count


async def test_sigterm_closes_every_resource_and_exits_zero(
    pg_dsn: str, nats_server_factory, tmp_path: Path
) -> None:
    nats = nats_server_factory()
    proc = _start("serve", dsn=pg_dsn, nats_url=nats.url, root=tmp_path)
    _wait_started(proc)
    assert await _connections(pg_dsn) >= 1
    began = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=15)
    elapsed = time.monotonic() - began
    events = [json.loads(line)["event"] for line in err.splitlines() if line.startswith("{")]
    assert proc.returncode == 0, err
    assert elapsed < 10
    assert "stopping on signal" in events
    assert events[-1] == "service stopped"
    assert not any("did not stop" in e or "timed out" in e for e in events), events
    assert await _connections(pg_dsn) == 0


async def test_an_eternal_task_dying_stops_the_service_with_exit_one(
    pg_dsn: str, nats_server_factory, tmp_path: Path
) -> None:
    nats = nats_server_factory()
    proc = _start("crash", dsn=pg_dsn, nats_url=nats.url, root=tmp_path)
    _wait_started(proc)
    _, err = proc.communicate(timeout=15)
    assert proc.returncode == 1, err
    assert "worker lost its footing" in err
    assert await _connections(pg_dsn) == 0
