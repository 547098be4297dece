"""Field rules that protect readers: nginx-bound hosts, limits, probe shape, process names, logs."""

import json
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pydantic
import pytest

from deis_shared import wire
from deis_shared.events import logs
from deis_shared.kv import desired, endpoints, procs, routes
from deis_shared.rpc import controller

INJECTIONS = [
    "example.com;",
    "example.com; return 200",
    "example.com }",
    "a b.com",
    "example.com\n",
    "Example.COM",
    "exa_mple.com",
    "-example.com",
    "example-.com",
    "ex..ample.com",
    "*",
    "foo.*.bar.com",
    "\uff45xample.com",
    "a" * 64 + ".com",
    "fe80::1%eth0;",
]


def _routes(**overrides: Any) -> routes.Routes:
    fields: dict[str, Any] = {
        "app": "myapp",
        "default_domain": "myapp.localhost",
        "domains": ["myapp"],
        "https_enforced": False,
        "maintenance": False,
        "routable": True,
    }
    fields.update(overrides)
    return routes.Routes.model_validate(fields)


@pytest.mark.parametrize("domain", INJECTIONS)
def test_routes_refuse_hostile_domains(domain: str) -> None:
    with pytest.raises(pydantic.ValidationError):
        _routes(domains=[domain])
    with pytest.raises(pydantic.ValidationError):
        _routes(default_domain=domain)


@pytest.mark.parametrize("domain", ["myapp", "*.example.org", "3com.com", "xn--caf-dma.example"])
def test_routes_accept_ace_and_wildcard_domains(domain: str) -> None:
    assert _routes(domains=[domain]).domains == [domain]


@pytest.mark.parametrize(
    "entry", ["1.2.3.4", "10.0.0.0/8", "10.1.2.3/8", "::1", "2001:db8::/32", "0.0.0.0/0"]
)
def test_whitelist_accepts_addresses_and_networks(entry: str) -> None:
    assert _routes(whitelist=[entry]).whitelist == [entry]


@pytest.mark.parametrize(
    "entry",
    ["1.2.3.4;", "1.2.3.4 deny", "fe80::1%eth0", "1.2.3.4/255.0.0.0", "300.1.1.1", "all", "", "1"],
)
def test_whitelist_refuses_anything_else(entry: str) -> None:
    with pytest.raises(pydantic.ValidationError):
        _routes(whitelist=[entry])


def test_private_keys_stay_out_of_repr() -> None:
    cert = routes.Certificate(name="c", domains=[], certificate="PEM", key="SECRET-KEY")
    assert "SECRET-KEY" not in repr(cert)
    assert "SECRET-KEY" not in repr(_routes(certificates=[cert]))


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "10.0.0.7", "web.myapp.svc"])
def test_upstream_hosts(host: str) -> None:
    assert endpoints.Upstream(host=host, port=5000).host == host


@pytest.mark.parametrize("host", [*INJECTIONS, "127.0.0.1:80", "http://x"])
def test_upstream_refuses_hostile_hosts(host: str) -> None:
    with pytest.raises(pydantic.ValidationError):
        endpoints.Upstream(host=host, port=5000)


@pytest.mark.parametrize("port", [0, 65536, -1])
def test_upstream_port_range(port: int) -> None:
    with pytest.raises(pydantic.ValidationError):
        endpoints.Upstream(host="127.0.0.1", port=port)


@pytest.mark.parametrize("value", ["0/100MB", "100MB/200GB", "20MB", "20gb", "0m", "1G/2G", "512M"])
def test_memory_limits_accepted(value: str) -> None:
    assert desired.Limits(memory={"web": value}).memory == {"web": value}


@pytest.mark.parametrize("value", ["20MK", "10", "20gK", "mb", "1Z", "512M\n", "200GB/100MB"])
def test_memory_limits_refused(value: str) -> None:
    with pytest.raises(pydantic.ValidationError):
        desired.Limits(memory={"web": value})


@pytest.mark.parametrize("value", ["0/2", "500m/600m", "0.5", ".123", "200m", "0", "1024"])
def test_cpu_limits_accepted(value: str) -> None:
    assert desired.Limits(cpu={"web": value}).cpu == {"web": value}


@pytest.mark.parametrize("value", ["20MK", "m", ".", "1G", "-1", "0.0001", "2/1"])
def test_cpu_limits_refused(value: str) -> None:
    with pytest.raises(pydantic.ValidationError):
        desired.Limits(cpu={"web": value})


@pytest.mark.parametrize(
    "proctype", ["worker_test", "Worker-test1", "-", "worker-", "-worker", "a.b"]
)
def test_process_types_follow_procfile_rule(proctype: str) -> None:
    with pytest.raises(pydantic.ValidationError):
        desired.Limits(cpu={proctype: "1"})


@pytest.mark.parametrize("key", ["123", "../../foo", "FOO/", "FOO-BAR", "A B"])
def test_config_keys_follow_deis_rule(key: str) -> None:
    with pytest.raises(pydantic.ValidationError):
        desired.DesiredState.model_validate(
            {
                "app": "myapp",
                "release": {
                    "id": str(UUID(int=1)),
                    "version": 1,
                    "summary": "s",
                    "created": "2024-05-01T00:00:00Z",
                },
                "build": None,
                "formation": {},
                "config": {key: "v"},
                "port": None,
                "routable": True,
                "maintenance": False,
            }
        )


def test_probe_uses_kubernetes_wire_names() -> None:
    body = {
        "livenessProbe": {
            "httpGet": {"port": 5000, "path": "/", "httpHeaders": [{"name": "a", "value": "b"}]},
            "initialDelaySeconds": 50,
            "timeoutSeconds": 50,
            "periodSeconds": 10,
            "successThreshold": 1,
            "failureThreshold": 3,
        },
        "readinessProbe": {"tcpSocket": {"port": 5000}, "exec": {"command": ["true"]}},
    }
    check = desired.Healthcheck.model_validate(body)
    assert check.liveness_probe is not None
    assert check.liveness_probe.http_get is not None
    assert check.liveness_probe.http_get.http_headers[0].value == "b"
    assert check.readiness_probe is not None
    assert check.readiness_probe.tcp_socket == desired.TcpSocketAction(port=5000)
    assert json.loads(check.model_dump_json(exclude_none=True)) == body


def test_http_probe_needs_a_port() -> None:
    with pytest.raises(pydantic.ValidationError, match="port"):
        desired.Probe.model_validate({"httpGet": {"path": "/"}})


def _process(name: str, type_: str = "web") -> procs.Process:
    return procs.Process(
        name=name,
        type=type_,
        index=1,
        release=1,
        state=procs.ProcessState.UP,
        started=None,
        restarts=0,
    )


def test_process_names_must_belong_to_app_and_type() -> None:
    procs.Procs(app="myapp", processes=[_process("myapp-web-1234567890-ab1cd")])
    with pytest.raises(pydantic.ValidationError, match="not named"):
        procs.Procs(app="myapp", processes=[_process("other-web-1")])
    with pytest.raises(pydantic.ValidationError, match="not named"):
        procs.Procs(app="myapp", processes=[_process("myapp-worker-1")])


def test_process_states_are_deis_pod_states() -> None:
    assert {state.value for state in procs.ProcessState} == {
        "initializing",
        "creating",
        "starting",
        "up",
        "terminating",
        "down",
        "destroyed",
        "crashed",
        "error",
    }


def test_log_line_format() -> None:
    line = logs.LogLine(
        app="myapp",
        process="web.1",
        message="listening on 5000",
        ts=datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC),
    )
    assert line.format() == "2024-05-01T12:00:00.123456Z myapp[web.1]: listening on 5000"
    platform = logs.LogLine(app="myapp", process="controller", message="bob deployed abc1234")
    assert platform.format().endswith(" deis[controller]: bob deployed abc1234")


@pytest.mark.parametrize("process", ["", "web 1", "web.1]", "Web.1", "web.1\n"])
def test_log_line_process_names(process: str) -> None:
    with pytest.raises(pydantic.ValidationError):
        logs.LogLine(app="myapp", process=process, message="x")


def test_key_lookup_reply_found() -> None:
    assert controller.KeyLookupReply(username="bob").found
    assert not controller.KeyLookupReply(username=None).found


@pytest.mark.parametrize(
    "fingerprint", ["", "54:6D:da:1f:91:b5:2b:6f:a2:83:90:c4:f9:73:76:f5", "SHA256:abc", "54:6d"]
)
def test_fingerprint_format(fingerprint: str) -> None:
    with pytest.raises(pydantic.ValidationError):
        controller.KeyLookupRequest(fingerprint=fingerprint)


def test_wire_utc_now_is_aware() -> None:
    assert wire.utc_now().tzinfo is UTC
