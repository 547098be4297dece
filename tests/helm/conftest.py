"""The Helm chart rendered by Helm's own engine (helm-python-sdk: Helm v4's library, no binary).

`render(values)` gives the objects an install with those values would send, parsed; `SCENARIOS`
are the value sets the issue names: defaults, HA, external database and S3, isolated planes.
"""

import base64
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import helm_python as helm
import pytest
import yaml  # type: ignore[import-untyped]  # ships no type information

CHART = Path(__file__).resolve().parents[2] / "deploy" / "helm" / "deis"
RELEASE = "deis"
NAMESPACE = "deis"
KUBE_VERSIONS = ("1.29.0", "1.37.0")
"""The range Chart.yaml's kubeVersion admits, at both ends."""

DATA_TAINT = {"key": "deis.io/plane", "operator": "Equal", "value": "data", "effect": "NoSchedule"}

SCENARIOS: dict[str, dict[str, Any]] = {
    "defaults": {},
    "ha": {
        "router": {"replicas": 3, "platformTLS": {"secretName": "deis-platform-tls"}},
        "nats": {"replicas": 3},
        "controller": {"replicas": 2},
    },
    "external": {
        "postgres": {"enabled": False},
        "externalDatabase": {"url": "postgresql://deis:secret@db.example.com:5432/deis"},
        "s3": {"enabled": False},
        "externalS3": {
            "endpoint": "https://s3.example.com",
            "bucket": "deis-prod",
            "region": "eu-west-1",
            "existingSecret": "deis-s3",
        },
        "nats": {"replicas": 1},
        "fluentbit": {"enabled": False},
    },
    "isolated": {
        "planes": {
            plane: {
                "nodeSelector": {"deis.io/plane": plane},
                "tolerations": [{**DATA_TAINT, "value": plane}],
            }
            for plane in ("control", "router", "data")
        },
        "router": {"kind": "DaemonSet"},
        "controller": {
            "service": {"type": "LoadBalancer", "port": 8000},
            "ingress": {"enabled": True, "host": "deis.example.com", "tlsSecret": "deis-tls"},
        },
        "builder": {"service": {"type": "LoadBalancer", "port": 2222}},
        "credentials": {"existingSecret": "my-deis-credentials"},
    },
}


def merged(values: dict[str, Any]) -> dict[str, Any]:
    """The chart's defaults with `values` over them, as Helm merges them."""
    with helm.Chart.load(CHART) as chart:
        return chart.merge_values(values)


def render(values: dict[str, Any] | None = None, *, upgrade: bool = False) -> list[dict[str, Any]]:
    """The objects an install (or an upgrade) of the chart with `values` sends, in order."""
    with helm.Chart.load(CHART) as chart:
        rendered = chart.render(
            values or {},
            name=RELEASE,
            namespace=NAMESPACE,
            is_install=not upgrade,
            is_upgrade=upgrade,
        )
    objects: list[dict[str, Any]] = []
    for path, text in sorted(rendered.items()):
        if not path.endswith(".yaml"):
            continue
        objects.extend(doc for doc in yaml.safe_load_all(text) if doc)
    return objects


def notes(values: dict[str, Any] | None = None) -> str:
    """NOTES.txt as an install with `values` prints it."""
    with helm.Chart.load(CHART) as chart:
        rendered = chart.render(values or {}, name=RELEASE, namespace=NAMESPACE, is_install=True)
    return rendered[f"{CHART.name}/templates/NOTES.txt"]


def find(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    """The one object of `kind` named `name`."""
    found = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} rendered"
    return found[0]


def workloads(objects: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every object with a pod template."""
    return (o for o in objects if o["kind"] in ("Deployment", "StatefulSet", "DaemonSet"))


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = workload["spec"]["template"]["spec"]
    return spec


def secret_values(objects: list[dict[str, Any]]) -> dict[tuple[str, str], str]:
    """(secret, key) → value of every Secret rendered."""
    values = {}
    for secret in (o for o in objects if o["kind"] == "Secret"):
        name = secret["metadata"]["name"]
        for key, value in (secret.get("data") or {}).items():
            values[(name, key)] = base64.b64decode(value).decode()
        for key, value in (secret.get("stringData") or {}).items():
            values[(name, key)] = value
    return values


_REFERENCE = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")


def container_env(
    workload: dict[str, Any],
    objects: list[dict[str, Any]],
    *,
    container: int = 0,
    given: dict[tuple[str, str], str] | None = None,
) -> dict[str, str]:
    """A container's environment as the kubelet makes it: Secret references read from the
    rendered Secrets (or `given`, for Secrets the operator brings), `$(VAR)` expanded."""
    secrets = {**secret_values(objects), **(given or {})}
    env: dict[str, str] = {}
    for item in pod_spec(workload)["containers"][container].get("env", []):
        if "value" in item:
            value = _REFERENCE.sub(lambda m: env.get(m.group(1), m.group(0)), item["value"])
        else:
            source = item["valueFrom"]
            if "secretKeyRef" in source:
                ref = source["secretKeyRef"]
                value = secrets[(ref["name"], ref["key"])]
            elif "fieldRef" in source:
                path = source["fieldRef"]["fieldPath"]
                value = _FIELD_SAMPLES.get(path, f"<{path}>")
            else:
                raise AssertionError(f"unexpected env source {source}")
        env[item["name"]] = value
    return env


_FIELD_SAMPLES = {
    "metadata.name": "deis-router-7d9f8b6c5-x2x4q",
    "metadata.namespace": "deis",
    "spec.nodeName": "node-1.example.internal",
    "status.podIP": "10.244.1.7",
    "status.hostIP": "192.168.1.10",
}
"""What the kubelet puts in a `fieldRef` variable, as a pod of this chart would get it."""


@pytest.fixture(params=sorted(SCENARIOS))
def scenario(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


class Chart:
    """The helpers above, for tests (a conftest is not importable as a module)."""

    path = CHART
    release = RELEASE
    namespace = NAMESPACE
    kube_versions = KUBE_VERSIONS
    scenarios = SCENARIOS
    data_taint = DATA_TAINT
    merged = staticmethod(merged)
    render = staticmethod(render)
    notes = staticmethod(notes)
    find = staticmethod(find)
    workloads = staticmethod(workloads)
    pod_spec = staticmethod(pod_spec)
    secret_values = staticmethod(secret_values)
    container_env = staticmethod(container_env)


@pytest.fixture
def chart() -> type[Chart]:
    return Chart
