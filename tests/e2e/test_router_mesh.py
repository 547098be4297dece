"""End to end: deploys, scale changes and a router agent's death lose no request.

Through `deis` against `deisctl up`, with two request loops running through nginx all along:
one reusing a keep-alive connection, one opening a new connection per request. Endpoint
changes reach nginx's balancer without a reload, and the scheduler stops old processes only
once the router serves the new ones (KV `routers`), so 20 deploys and 20 scale changes cost
no request. A router agent frozen across its app's switch-over and then killed -9 costs none
either: its nginx serves on, the next agent adopts it, and the old process stops only once
that agent serves the new release.
"""

import contextlib
import http.client
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

PAUSE = 0.01
"""Seconds between two requests of one loop: both loops together stay near 150 requests/s,
enough to meet every switch-over without starving the platform of the machine's 2 cores."""


class Load:
    """Two request loops against `host` through nginx: a kept-alive connection and new ones."""

    def __init__(self, port: int, host: str) -> None:
        self._port, self._host = port, host
        self._stop = threading.Event()
        self.answers = 0
        self.failures: list[str] = []
        self._threads = [
            threading.Thread(target=self._loop, args=(True,), daemon=True),
            threading.Thread(target=self._loop, args=(False,), daemon=True),
        ]

    def _connect(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self._port, timeout=10)

    def _loop(self, keep_alive: bool) -> None:
        connection = self._connect()
        while not self._stop.is_set():
            if not keep_alive:
                connection.close()
                connection = self._connect()
            try:
                connection.request("GET", "/", headers={"Host": self._host})
                response = connection.getresponse()
                body = response.read()
            except (OSError, http.client.HTTPException) as error:
                kind = "keep-alive" if keep_alive else "new connection"
                self.failures.append(f"{time.strftime('%T')} {kind}: {error!r}")
                connection.close()
                connection = self._connect()
            else:
                if response.status == 200 and body.endswith(b"\n"):
                    self.answers += 1
                else:
                    self.failures.append(f"{time.strftime('%T')} {response.status}: {body[:80]!r}")
            time.sleep(PAUSE)
        connection.close()

    @contextlib.contextmanager
    def running(self) -> Iterator["Load"]:
        for thread in self._threads:
            thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            for thread in self._threads:
                thread.join(15)


def _deployed(developer, app: str, files: dict[str, str]) -> None:
    copy = developer.checkout(app, files)
    developer.deis("create", app, cwd=copy)
    developer.push(copy)


def _pid_of(deisctl, data_dir: Path, name: str) -> int | None:
    for line in deisctl("status", data_dir=data_dir).stdout.splitlines():
        words = line.split()
        if words[:2] == [name, "up"]:
            return int(words[2])
    return None


def test_20_deploys_and_20_scale_changes_lose_no_request(platform, developer, moody_app):
    app = f"{developer.username}-steady"
    _deployed(developer, app, moody_app)
    load = Load(platform.http_port, f"{app}.localhost")
    with load.running():
        for round_ in range(20):
            developer.deis("config:set", f"GREETING=round{round_}", "-a", app)
            developer.deis("ps:scale", f"web={2 if round_ % 2 == 0 else 1}", "-a", app)
        assert platform.get(app).text == f"round19 from v{2 + 20}\n"
    assert load.failures == [], load.failures[:20]
    assert load.answers > 200, load.answers


def test_a_router_agent_killed_across_a_switch_over_loses_no_request(
    platform, developer, deisctl, until, moody_app
):
    app = f"{developer.username}-agentless"
    _deployed(developer, app, moody_app)
    agent = _pid_of(deisctl, platform.data_dir, "router")
    assert agent is not None, "the router agent is not up"
    nginx = (platform.data_dir / "router" / "nginx.pid").read_text().strip()
    load = Load(platform.http_port, f"{app}.localhost")
    with load.running():
        outcome: dict[str, object] = {}

        def change() -> None:
            outcome["done"] = developer.deis(
                "config:set", "SLOW=2", "GREETING=switched", "-a", app, check=False
            )

        changing = threading.Thread(target=change)
        changing.start()
        until(lambda: "v3" in developer.deis("releases", "-a", app).stdout, seconds=20)
        os.kill(agent, signal.SIGSTOP)  # frozen: the switch-over to v3 happens meanwhile
        try:
            time.sleep(4.0)
        finally:
            os.kill(agent, signal.SIGKILL)
        until(lambda: _pid_of(deisctl, platform.data_dir, "router") not in (None, agent), 30)
        changing.join(60)
        until(lambda: platform.get(app).text == "switched from v3\n", seconds=30)
        time.sleep(3.0)  # the old process is stopped meanwhile: still nothing lost
    logs = "".join(
        f"==> {name}.log\n{(platform.data_dir / 'logs' / f'{name}.log').read_text()[-4000:]}\n"
        for name in ("router", "scheduler")
    )
    assert load.failures == [], f"{len(load.failures)}: {load.failures[:3]}\n{logs}"
    assert load.answers > 100, load.answers
    assert (platform.data_dir / "router" / "nginx.pid").read_text().strip() == nginx, (
        "nginx was restarted, not adopted"
    )
    releases = developer.deis("releases", "-a", app).stdout
    assert "v3" in releases and "failed" not in releases.lower(), releases
