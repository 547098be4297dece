# mypy: allow-untyped-defs, allow-untyped-calls, allow-incomplete-defs
"""The platform services' settings: read from the environment, off by default, bad values
refused with a message naming the variable."""

from typing import Any

import pydantic
import pytest

from deis_router_agent.settings import RouterSettings, split_upstream

SERVICE = "deis-controller.deis.svc.cluster.local"


def test_the_controller_and_the_builder_are_off_by_default(monkeypatch):
    for name in ("CONTROLLER_UPSTREAM", "BUILDER_UPSTREAM", "BUILDER_PORT"):
        monkeypatch.delenv(f"DEIS_{name}", raising=False)
    settings = RouterSettings()
    assert settings.controller_upstream is None
    assert settings.builder_upstream is None
    assert settings.builder_port == 2222
    assert settings.builder_proxy_timeout == 1200.0


def test_they_are_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("DEIS_CONTROLLER_UPSTREAM", f"{SERVICE}:8000")
    monkeypatch.setenv("DEIS_BUILDER_UPSTREAM", "[fd00::2]:2222")
    monkeypatch.setenv("DEIS_BUILDER_PORT", "22")
    monkeypatch.setenv("DEIS_BUILDER_PROXY_TIMEOUT", "3600")
    settings = RouterSettings()
    assert settings.controller_upstream == f"{SERVICE}:8000"
    assert settings.builder_upstream == "[fd00::2]:2222"
    assert settings.builder_port == 22
    assert settings.builder_proxy_timeout == 3600.0


def test_empty_values_mean_unset(monkeypatch):
    monkeypatch.setenv("DEIS_CONTROLLER_UPSTREAM", "")
    monkeypatch.setenv("DEIS_BUILDER_UPSTREAM", "")
    settings = RouterSettings()
    assert settings.controller_upstream is None
    assert settings.builder_upstream is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("deis-controller:8000", ("deis-controller", 8000)),
        (f"{SERVICE}:8000", (SERVICE, 8000)),
        ("10.0.0.1:1", ("10.0.0.1", 1)),
        ("[::1]:65535", ("::1", 65535)),
    ],
)
def test_good_upstreams_split_into_host_and_port(value, expected):
    assert split_upstream(value) == expected


BAD = [
    "deis-controller",  # no port
    "deis-controller:",
    ":8000",
    "deis-controller:0",
    "deis-controller:65536",
    "deis-controller:80a",
    "Deis-Controller:8000",  # not lowercase
    "deis_controller:8000",
    "http://deis-controller:8000",
    "deis-controller:8000/v2",
    "deis controller:8000",
    "ctl;return 200:80",
    "ctl:80\n",
    "::1:8000",  # IPv6 without brackets
    "[deis-controller]:8000",
    "[fe80::1%eth0]:8000",
    "-bad-:80",
]


@pytest.mark.parametrize("value", BAD)
def test_bad_upstreams_are_refused_with_a_clear_message(value):
    with pytest.raises(ValueError, match="is not host:port"):
        split_upstream(value)
    for field in ("controller_upstream", "builder_upstream"):
        with pytest.raises(pydantic.ValidationError) as raised:
            RouterSettings(**{field: value})
        message = str(raised.value)
        assert f"DEIS_{field.upper()}: {value!r} is not host:port" in message
        assert "an IPv6 address in brackets" in message


def test_the_builder_port_must_be_free(monkeypatch):
    monkeypatch.setenv("DEIS_BUILDER_UPSTREAM", "builder:2222")
    with pytest.raises(pydantic.ValidationError, match="DEIS_BUILDER_PORT 8080 is DEIS_HTTP_PORT"):
        RouterSettings(builder_port=8080)
    with pytest.raises(pydantic.ValidationError, match="is DEIS_HTTPS_PORT too"):
        RouterSettings(builder_port=8443)
    # Without a builder the port means nothing and clashes with nothing.
    monkeypatch.delenv("DEIS_BUILDER_UPSTREAM")
    assert RouterSettings(builder_port=8080).builder_upstream is None


def test_the_controllers_name_must_be_a_host_name():
    with pytest.raises(pydantic.ValidationError, match=r"'deis\.Example\.com' is not a lowercase"):
        RouterSettings(controller_upstream="c:8000", platform_domain="Example.com")
    assert RouterSettings(platform_domain="Example.com").controller_upstream is None


def test_the_balancer_socket_defaults_to_the_data_dir_and_must_fit_an_address(tmp_path):
    settings = RouterSettings(data_dir=tmp_path)
    assert settings.endpoints_socket == tmp_path / "run" / "balancer.sock"
    with pytest.raises(pydantic.ValidationError, match="DEIS_BALANCER_SOCKET"):
        RouterSettings(data_dir=tmp_path / ("x" * 100))
    assert (
        RouterSettings(balancer_socket="/run/b.sock").endpoints_socket.as_posix() == "/run/b.sock"
    )


def test_the_platform_certificate_needs_both_files_and_the_controller(tmp_path):
    controller: dict[str, Any] = {"controller_upstream": "c:8000"}
    pair: dict[str, Any] = {
        "platform_cert_file": tmp_path / "tls.crt",
        "platform_key_file": tmp_path / "tls.key",
    }
    settings = RouterSettings(**controller, **pair, platform_https_enforced=True)
    assert settings.platform_cert_file == tmp_path / "tls.crt"
    assert settings.platform_cert_check_seconds == 60.0
    assert RouterSettings(**controller).platform_cert_file is None  # off by default
    assert (
        RouterSettings(**controller, platform_cert_file="", platform_key_file="").platform_key_file
        is None
    )
    with pytest.raises(
        pydantic.ValidationError,
        match="DEIS_PLATFORM_CERT_FILE is set but DEIS_PLATFORM_KEY_FILE is not",
    ):
        RouterSettings(**controller, platform_cert_file=tmp_path / "tls.crt")
    with pytest.raises(
        pydantic.ValidationError,
        match="DEIS_PLATFORM_KEY_FILE is set but DEIS_PLATFORM_CERT_FILE is not",
    ):
        RouterSettings(**controller, platform_key_file=tmp_path / "tls.key")
    with pytest.raises(pydantic.ValidationError, match="DEIS_CONTROLLER_UPSTREAM is not"):
        RouterSettings(**pair)
    with pytest.raises(pydantic.ValidationError, match="DEIS_PLATFORM_HTTPS_ENFORCED needs"):
        RouterSettings(**controller, platform_https_enforced=True)


@pytest.mark.parametrize(
    "name", ["router 1", "a>b", "r*", "$KV", "-router", "router-", "x/y", "é", "a" * 254]
)
def test_an_agent_name_that_cannot_be_its_kv_key_is_refused(name):
    with pytest.raises(pydantic.ValidationError, match=r"cannot be a KV key|at most 253"):
        RouterSettings(agent_name=name)


@pytest.mark.parametrize("name", ["router-0", "deis-router-7f9c-x2x", "node1.example.com"])
def test_host_and_pod_names_are_agent_names(name):
    assert RouterSettings(agent_name=name).agent_name == name
