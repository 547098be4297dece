"""Automatic TLS through the CLI: `tls:auto:enable`, `tls:info`, `tls:auto:disable`.

The controller here issues from the session's Pebble (every challenge taken as passed), so a
domain's certificate appears in `tls:info` and `certs` within a pass.
"""

import json
import time
from collections.abc import Iterator

import pytest

from deis_testing import NatsServer, controller_process, free_port
from deis_testing.pebble import PebbleServer

from .conftest import Controller


@pytest.fixture(scope="module")
def controller(
    module_nats_server: NatsServer,
    module_pg_dsn: str,
    tmp_path_factory: pytest.TempPathFactory,
    pebble_server: PebbleServer,
) -> Iterator[Controller]:
    """The controller as a real process, its issuer talking to Pebble."""
    process = controller_process(
        dsn=module_pg_dsn,
        nats_url=module_nats_server.url,
        port=free_port(),
        log=tmp_path_factory.mktemp("controller") / "controller.log",
        ACME_DIRECTORY=pebble_server.directory,
        ACME_CA_BUNDLE=pebble_server.ca_bundle,
        ACME_INTERVAL="3600",  # passes only when woken
    )
    try:
        process.start()
        running = Controller(url=process.url)
        yield running
        running.http.close()
    finally:
        process.stop()


@pytest.fixture
def app(admin, app_name):
    admin.ok("create", app_name, "--no-remote")
    return app_name


def test_automatic_tls_issues_shows_and_stops(admin, app):
    admin.ok("domains:add", "shop.cli.test", "-a", app)
    assert "Automatic TLS is off" in admin.ok("tls:info", "-a", app)
    admin.ok("tls:auto:enable", "-a", app)

    deadline = time.monotonic() + 30
    while True:
        tls = json.loads(admin.ok("tls:info", "--json", "-a", app))
        states = {entry["domain"]: entry["state"] for entry in tls["certs_auto_status"]}
        if states == {"shop.cli.test": "issued"} or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert states == {"shop.cli.test": "issued"}
    assert tls["certs_auto_enabled"] is True

    shown = admin.ok("tls:info", "-a", app)
    assert "Automatic TLS is on" in shown
    row = next(line for line in shown.splitlines() if line.startswith("shop.cli.test"))
    assert "issued" in row and "auto-shop-cli-test" in row
    assert "auto-shop-cli-test" in admin.ok("certs:list")

    assert "409 Conflict" in admin.fails("tls:auto:enable", "-a", app)
    admin.ok("tls:auto:disable", "-a", app)
    assert "Automatic TLS is off" in admin.ok("tls", "-a", app)
    assert "HTTPS is not enforced" in admin.ok("tls", "-a", app)
