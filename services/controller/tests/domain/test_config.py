"""Config merge rules (docs/api.md §2.3): decoding, validation vectors, merge, healthchecks."""

import json
from typing import Any

import pytest

from deis_controller import errors
from deis_controller.domain import config
from deis_controller.domain.config import ConfigData

EMPTY = ConfigData()

PROBE = {"httpGet": {"path": "/", "port": 5000}, "initialDelaySeconds": 5}


def field_errors(changes: dict[str, Any], base: ConfigData = EMPTY) -> dict[str, list[str]]:
    with pytest.raises(errors.FieldErrors) as caught:
        config.merge(base=base, changes=changes)
    return caught.value.fields


# --- decoding -------------------------------------------------------------------------------


def test_fields_may_be_objects_or_strings_holding_json() -> None:
    merged = config.merge(
        base=EMPTY, changes={"values": '{"PORT": "5000"}', "memory": {"web": "1G"}}
    )

    assert merged.values == {"PORT": "5000"}
    assert merged.memory == {"web": "1G"}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("not json", "Value must be valid JSON."),
        ("[1, 2]", 'Expected a dictionary of items but got type "list".'),
        (5, 'Expected a dictionary of items but got type "int".'),
        (None, "This field may not be null."),
    ],
)
def test_a_field_that_is_not_an_object_is_a_field_error(raw: Any, message: str) -> None:
    assert field_errors({"values": raw}) == {"values": [message]}


def test_errors_of_several_fields_are_reported_together() -> None:
    assert field_errors({"values": {"1": "x"}, "cpu": {"web": "m"}}) == {
        "values": [config.CONFIG_KEY_MESSAGE],
        "cpu": [config.CPU_MESSAGE],
    }


def test_unknown_body_keys_are_ignored() -> None:
    assert config.merge(base=EMPTY, changes={"routable": True, "app": "x"}) == EMPTY


# --- values ---------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["FOO", "_foo", "f001", "FOO_BAR_BAZ_"])
def test_accepted_config_keys(key: str) -> None:
    assert config.merge(base=EMPTY, changes={"values": {key: "1"}}).values == {key: "1"}


@pytest.mark.parametrize("key", ["123", "../../foo", "FOO/", "FOO-BAR", "FOO\n", "ÄRGER"])
def test_rejected_config_keys(key: str) -> None:
    assert field_errors({"values": {key: "1"}}) == {"values": [config.CONFIG_KEY_MESSAGE]}


def test_unicode_values_are_fine() -> None:
    merged = config.merge(base=EMPTY, changes={"values": {"GREETING": "héllo wörld ✓"}})

    assert merged.values == {"GREETING": "héllo wörld ✓"}


@pytest.mark.parametrize("port", ["1", "5000", 65535, "65535"])
def test_accepted_ports(port: Any) -> None:
    assert config.merge(base=EMPTY, changes={"values": {"PORT": port}}).values == {
        "PORT": str(port)
    }


@pytest.mark.parametrize(
    ("port", "message"),
    [
        ("abc", "PORT can only be a numeric value"),
        ("-1", "PORT can only be a numeric value"),
        ("50.5", "PORT can only be a numeric value"),
        ("²", "PORT can only be a numeric value"),
        (True, "PORT can only be a numeric value"),
        ("0", "PORT needs to be between 1 and 65535"),
        (65536, "PORT needs to be between 1 and 65535"),
    ],
)
def test_rejected_ports(port: Any, message: str) -> None:
    assert field_errors({"values": {"PORT": port}}) == {"values": [message]}


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("/health?testing=0", "can only be a URI path"),
        ("/health#db", "can only be a URI path"),
        ("http://someurl.com/health/", "can only be a URI path"),
        ("http://someurl.com", "is missing a URI path"),
    ],
)
def test_healthcheck_url_must_be_a_bare_path(url: str, message: str) -> None:
    (problem,) = field_errors({"values": {"HEALTHCHECK_URL": url}})["values"]

    assert problem.startswith(f"HEALTHCHECK_URL {message} (such as /healthz)")


def test_other_healthcheck_values_must_be_numeric() -> None:
    assert field_errors({"values": {"HEALTHCHECK_INITIAL_DELAY": "horse"}}) == {
        "values": ["HEALTHCHECK_INITIAL_DELAY can only be a numeric value"]
    }


def test_values_are_stored_as_strings() -> None:
    merged = config.merge(base=EMPTY, changes={"values": {"PORT": 5000, "FLAG": True, "N": 1}})

    assert merged.values == {"PORT": "5000", "FLAG": "True", "N": "1"}


# --- merging --------------------------------------------------------------------------------


def test_given_keys_overwrite_and_the_rest_is_carried_forward() -> None:
    base = ConfigData(values={"A": "1", "B": "2"}, memory={"web": "1G"}, tags={"x": "y"})

    merged = config.merge(base=base, changes={"values": {"B": "3", "C": "4"}})

    assert merged.values == {"A": "1", "B": "3", "C": "4"}
    assert merged.memory == {"web": "1G"}
    assert merged.tags == {"x": "y"}
    assert base.values == {"A": "1", "B": "2"}


def test_null_unsets_a_key_and_skips_its_validation() -> None:
    base = ConfigData(values={"A": "1"}, memory={"web": "1G"})

    merged = config.merge(base=base, changes={"values": {"A": None}, "memory": {"web": None}})

    assert merged.values == {}
    assert merged.memory == {}


@pytest.mark.parametrize("name", ["values", "memory", "cpu", "tags", "registry"])
def test_unsetting_a_missing_key_is_unprocessable(name: str) -> None:
    with pytest.raises(errors.Unprocessable) as caught:
        config.merge(base=EMPTY, changes={name: {"web": None}})

    assert str(caught.value) == f"web does not exist under {name}"


# --- limits ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "limit", ["0/100MB", "100MB/200GB", "20MB", "20gb", "0m", "1G/2G", "512M", "0", 0]
)
def test_accepted_memory(limit: Any) -> None:
    assert config.merge(base=EMPTY, changes={"memory": {"web": limit}}).memory == {
        "web": str(limit)
    }


@pytest.mark.parametrize("limit", ["20MK", "10", "20gK", "mb", "1Z", "1G/", "1G\n"])
def test_rejected_memory(limit: str) -> None:
    assert field_errors({"memory": {"web": limit}}) == {"memory": [config.MEMORY_MESSAGE]}


@pytest.mark.parametrize(
    "limit", ["0/2", "500m/600m", "0.5", ".123", "1.123", "200m", "0", "1024", 0.5]
)
def test_accepted_cpu(limit: Any) -> None:
    assert config.merge(base=EMPTY, changes={"cpu": {"web": limit}}).cpu == {"web": str(limit)}


@pytest.mark.parametrize("limit", ["20MK", "20gK", "m", ".", "1G", "-1", "-0.5", "1/-1"])
def test_rejected_cpu(limit: str) -> None:
    assert field_errors({"cpu": {"web": limit}}) == {"cpu": [config.CPU_MESSAGE]}


@pytest.mark.parametrize(
    ("name", "limit", "reason"),
    [
        ("memory", "200GB/100MB", "The memory request (200GB) may not exceed its limit (100MB)"),
        ("memory", "2000000000G", "A memory limit may be at most 1 PiB (1024 TiB)"),
        ("cpu", "2/1", "The CPU request (2) may not exceed its limit (1)"),
        ("cpu", "0.0001", "A CPU limit is counted in whole millicores (1m = 0.001 CPU)"),
        ("cpu", "5000", "A CPU limit may be at most 1024 CPUs"),
        ("cpu", "1" * 100, config.CPU_MESSAGE),
    ],
)
def test_limits_no_backend_can_apply_are_refused(name: str, limit: str, reason: str) -> None:
    # Deis's patterns let these through; the scheduler could not run them (deis_shared.limits).
    assert field_errors({name: {"web": limit}}) == {name: [reason]}


@pytest.mark.parametrize("name", ["memory", "cpu"])
@pytest.mark.parametrize("proc_type", ["w3&b", "Web", "web_1", "-web", "web-"])
def test_limits_need_process_type_keys(name: str, proc_type: str) -> None:
    assert field_errors({name: {proc_type: "1"}}) == {
        name: ["Process types can only contain lowercase alphanumeric characters"]
    }


def test_limits_accept_hyphenated_process_types() -> None:
    assert config.merge(base=EMPTY, changes={"memory": {"web-1": "1G"}}).memory == {"web-1": "1G"}


# --- tags -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("kubernetes.io/hostname", "172.17.8.100"),
        ("is.valid", "is-also_valid"),
        ("environ", "dev"),
        ("empty", ""),
        ("/name", "value"),
    ],
)
def test_accepted_tags(key: str, value: str) -> None:
    assert config.merge(base=EMPTY, changes={"tags": {key: value}}).tags == {key: value}


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("in\nvalid", "x", 'Tag keys must be alphanumeric or "-_.", and 1-63 characters.'),
        ("invalid.", "x", 'Tag keys must be alphanumeric or "-_.", and 1-63 characters.'),
        ("a" * 64, "x", 'Tag keys must be alphanumeric or "-_.", and 1-63 characters.'),
        ("a/b/c", "x", 'Tag keys must be alphanumeric or "-_.", and 1-63 characters.'),
        ("valid", "in\nvalid", 'Tag values must be alphanumeric or "-_.", and 1-63 characters.'),
        ("valid", "invalid.", 'Tag values must be alphanumeric or "-_.", and 1-63 characters.'),
        ("host.name.com/notvalid-", "x", 'Tag keys must be alphanumeric or "-_.", and 1-63 '),
        ("bad..prefix/name", "x", "Tag key prefixes must be DNS subdomains."),
        ("-bad.io/name", "x", "Tag key prefixes must be DNS subdomains."),
        ("a." * 127 + "io/name", "x", "Tag key prefixes must 253 characters or less."),
    ],
)
def test_rejected_tags(key: str, value: str, message: str) -> None:
    (problem,) = field_errors({"tags": {key: value}})["tags"]

    assert problem.startswith(message)


def test_default_tags_apply_when_the_result_has_none() -> None:
    merged = config.merge(base=EMPTY, changes={}, default_tags={"role": "worker"})

    assert merged.tags == {"role": "worker"}


def test_default_tags_do_not_replace_given_tags() -> None:
    merged = config.merge(
        base=EMPTY, changes={"tags": {"zone": "a"}}, default_tags={"role": "worker"}
    )

    assert merged.tags == {"zone": "a"}


# --- registry -------------------------------------------------------------------------------


def test_registry_keys_are_lowercased_and_need_port() -> None:
    base = ConfigData(values={"PORT": "5000"})

    merged = config.merge(base=base, changes={"registry": {"USERNAME": "bob", "Password": "pw"}})

    assert merged.registry == {"username": "bob", "password": "pw"}


def test_an_upper_case_null_unsets_a_stored_registry_key() -> None:
    base = ConfigData(values={"PORT": "5000"}, registry={"password": "pw", "username": "u"})

    merged = config.merge(base=base, changes={"registry": {"PASSWORD": None}})

    assert merged.registry == {"username": "u"}


def test_registry_without_port_is_a_bad_request() -> None:
    with pytest.raises(errors.BadRequest) as caught:
        config.merge(base=EMPTY, changes={"registry": {"username": "bob"}})

    assert str(caught.value) == "PORT needs to be set in the config when using a private registry"


def test_port_in_the_same_request_satisfies_the_registry() -> None:
    merged = config.merge(
        base=EMPTY, changes={"registry": {"username": "bob"}, "values": {"PORT": 5000}}
    )

    assert merged.registry == {"username": "bob"}


def test_unsetting_port_while_a_registry_is_set_is_refused() -> None:
    base = ConfigData(values={"PORT": "5000"}, registry={"username": "bob"})

    with pytest.raises(errors.BadRequest):
        config.merge(base=base, changes={"values": {"PORT": None}})


def test_registry_keys_follow_the_config_key_rule() -> None:
    assert field_errors({"registry": {"user-name": "x"}}) == {
        "registry": [config.CONFIG_KEY_MESSAGE]
    }


# --- healthchecks ---------------------------------------------------------------------------


def test_probes_are_set_per_type_and_keep_their_types() -> None:
    merged = config.merge(
        base=EMPTY, changes={"healthcheck": {"web/cmd": {"readinessProbe": PROBE}}}
    )
    merged = config.merge(
        base=merged,
        changes={"healthcheck": json.dumps({"web/cmd": {"livenessProbe": PROBE}})},
    )

    assert merged.healthcheck == {"web/cmd": {"readinessProbe": PROBE, "livenessProbe": PROBE}}


def test_a_legacy_top_level_probe_is_rekeyed_under_web_cmd() -> None:
    merged = config.merge(base=EMPTY, changes={"healthcheck": {"livenessProbe": PROBE}})

    assert merged.healthcheck == {"web/cmd": {"livenessProbe": PROBE}}


def test_a_stored_legacy_shape_is_rekeyed_too() -> None:
    base = ConfigData(healthcheck={"readinessProbe": PROBE})

    merged = config.merge(base=base, changes={"healthcheck": {"worker": {"livenessProbe": PROBE}}})

    assert merged.healthcheck == {
        "web/cmd": {"readinessProbe": PROBE},
        "worker": {"livenessProbe": PROBE},
    }


def test_unsetting_a_probe_and_a_type() -> None:
    base = ConfigData(healthcheck={"web/cmd": {"livenessProbe": PROBE, "readinessProbe": PROBE}})

    one = config.merge(base=base, changes={"healthcheck": {"web/cmd": {"livenessProbe": None}}})
    both = config.merge(base=one, changes={"healthcheck": {"web/cmd": None}})

    assert one.healthcheck == {"web/cmd": {"readinessProbe": PROBE}}
    assert both.healthcheck == {}
    assert base.healthcheck["web/cmd"] == {"livenessProbe": PROBE, "readinessProbe": PROBE}


@pytest.mark.parametrize(
    "change",
    [
        {"invalid_proctype": None},
        {"invalid_proctype": {"livenessProbe": None}},
        {"web/cmd": {"livenessProbe": None}},
    ],
)
def test_unsetting_missing_healthchecks_is_unprocessable(change: dict[str, Any]) -> None:
    base = ConfigData(healthcheck={"web/cmd": {"readinessProbe": PROBE}})

    with pytest.raises(errors.Unprocessable) as caught:
        config.merge(base=base, changes={"healthcheck": change})

    assert str(caught.value).endswith("does not exist under healthcheck")


@pytest.mark.parametrize(
    "probe",
    [
        {"exec": {"command": ["true"]}},
        {"tcpSocket": {"port": 80}, "failureThreshold": 3},
        {
            "httpGet": {
                "port": 80,
                "path": "/",
                "host": "h",
                "scheme": "HTTP",
                "httpHeaders": [{"name": "X", "value": "y"}],
            },
            "initialDelaySeconds": 50,
            "timeoutSeconds": 50,
            "periodSeconds": 10,
            "successThreshold": 1,
        },
    ],
)
def test_accepted_probes(probe: dict[str, Any]) -> None:
    merged = config.merge(base=EMPTY, changes={"healthcheck": {"web": {"livenessProbe": probe}}})

    assert merged.healthcheck == {"web": {"livenessProbe": probe}}


@pytest.mark.parametrize(
    ("probes", "message"),
    [
        ({"testProbe": {"httpGet": {"port": 50}}}, config.PROBE_NAME_MESSAGE),
        (
            {"livenessProbe": {"httpGet": {"port": "50"}}},
            "could not validate {'httpGet': {'port': '50'}}: '50' is not of type 'integer'",
        ),
        (
            {"livenessProbe": {"httpGet": {"port": 50}, "initialDelaySeconds": "t"}},
            "'t' is not of type 'integer'",
        ),
        ({"livenessProbe": {"httpGet": {"path": "/"}}}, "'port' is a required property"),
        ({"livenessProbe": {"tcpSocket": {}}}, "'port' is a required property"),
        ({"livenessProbe": {"exec": {"command": []}}}, "[] is too short"),
        ({"livenessProbe": {"exec": {}}}, "'command' is a required property"),
        ({"livenessProbe": {"exec": {"command": [1]}}}, "1 is not of type 'string'"),
        ({"livenessProbe": {"periodSeconds": True}}, "True is not of type 'integer'"),
        ({"livenessProbe": "x"}, "'x' is not of type 'object'"),
        (
            {"readinessProbe": {"httpGet": {"port": 1, "httpHeaders": [{"name": 1}]}}},
            "1 is not of type 'string'",
        ),
        (
            {"livenessProbe": {"httpGet": {"port": 5000}, "successThreshold": 5}},
            "livenessProbe successThreshold can only be 1",
        ),
    ],
)
def test_rejected_probes(probes: dict[str, Any], message: str) -> None:
    (problem,) = field_errors({"healthcheck": {"web/cmd": probes}})["healthcheck"]

    assert problem.endswith(message)


def test_readiness_may_have_another_success_threshold() -> None:
    probe = {"httpGet": {"port": 5000}, "successThreshold": 5}

    merged = config.merge(base=EMPTY, changes={"healthcheck": {"web": {"readinessProbe": probe}}})

    assert merged.healthcheck == {"web": {"readinessProbe": probe}}


def test_legacy_healthcheck_values_migrate_with_defaults() -> None:
    merged = config.merge(base=EMPTY, changes={"values": {"HEALTHCHECK_URL": "/health", "A": "b"}})

    probe = {
        "initialDelaySeconds": 50,
        "timeoutSeconds": 50,
        "periodSeconds": 10,
        "successThreshold": 1,
        "failureThreshold": 3,
        "httpGet": {"path": "/health", "port": 5000},
    }
    assert merged.values == {"A": "b"}
    assert merged.healthcheck == {"web/cmd": {"livenessProbe": probe, "readinessProbe": probe}}


def test_legacy_healthcheck_values_override_defaults_and_use_port() -> None:
    base = ConfigData(values={"PORT": "8080"})

    merged = config.merge(
        base=base,
        changes={
            "values": json.dumps(
                {
                    "HEALTHCHECK_URL": "/health",
                    "HEALTHCHECK_INITIAL_DELAY": "25",
                    "HEALTHCHECK_TIMEOUT": "10",
                    "HEALTHCHECK_PERIOD_SECONDS": "5",
                    "HEALTHCHECK_SUCCESS_THRESHOLD": "2",
                    "HEALTHCHECK_FAILURE_THRESHOLD": 2,
                }
            )
        },
    )

    probe = {
        "initialDelaySeconds": 25,
        "timeoutSeconds": 10,
        "periodSeconds": 5,
        "successThreshold": 2,
        "failureThreshold": 2,
        "httpGet": {"path": "/health", "port": 8080},
    }
    assert merged.values == {"PORT": "8080"}
    assert merged.healthcheck == {"web/cmd": {"livenessProbe": probe, "readinessProbe": probe}}


def test_healthcheck_values_without_url_stay_in_values() -> None:
    merged = config.merge(base=EMPTY, changes={"values": {"HEALTHCHECK_TIMEOUT": "5"}})

    assert merged.values == {"HEALTHCHECK_TIMEOUT": "5"}
    assert merged.healthcheck == {}
