"""Generated secrets work where the platform puts them, nats-server's `$VARIABLE`s included."""

import os
import subprocess

import pytest

from deis_testing import free_port
from deis_testing.nats import nats_server_binary
from deisctl import secrets


def test_every_secret_starts_with_a_letter_and_needs_no_quoting():
    for _ in range(2000):
        value = secrets.generate()
        assert value[0].isalpha()
        assert len(value) == 44
        assert set(value) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def _nats_check(tmp_path, password: str) -> subprocess.CompletedProcess[str]:
    conf = tmp_path / "nats.conf"
    conf.write_text(
        f'listen: "127.0.0.1:{free_port()}"\n'
        "authorization { users: [ {user: controller, password: $NATS_CONTROLLER_PASSWORD} ] }\n"
    )
    return subprocess.run(
        [nats_server_binary(), "--config", str(conf), "-t"],
        env={**os.environ, "NATS_CONTROLLER_PASSWORD": password},
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.mark.parametrize("leading", ["4-", "-4"])
def test_nats_server_refuses_a_variable_that_starts_like_a_number(tmp_path, leading):
    # Why secrets start with a letter: compose's and the chart's nats.conf name them as variables.
    done = _nats_check(tmp_path, leading + "abcdefgh")
    assert done.returncode != 0
    assert "NATS_CONTROLLER_PASSWORD" in done.stdout + done.stderr


def test_nats_server_takes_generated_secrets_as_variables(tmp_path):
    for _ in range(20):
        done = _nats_check(tmp_path, secrets.generate())
        assert done.returncode == 0, done.stdout + done.stderr
