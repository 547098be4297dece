"""The scheduler's RBAC rules allow every API call the Kubernetes backend makes, as its own tests
record them against the API emulator, and nothing beyond the kinds the backend knows."""

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from deis_scheduler.kubernetes.client import KINDS
from deis_testing.plugin import KUBE_REQUEST_LOG

ROOT = Path(__file__).resolve().parents[2]
BACKEND_TESTS = ("test_backend.py", "test_client.py")

Call = tuple[str, str, str]
"""(API group, resource or resource/subresource, verb), as RBAC names them."""


def call(method: str, path_qs: str) -> Call:
    """What RBAC checks for one request: its group, resource and verb."""
    url = urlsplit(path_qs)
    parts = url.path.strip("/").split("/")
    if parts[:2] == ["api", "v1"]:
        group, rest = "", parts[2:]
    elif parts[0] == "apis" and len(parts) >= 3:
        group, rest = parts[1], parts[3:]
    else:
        raise AssertionError(f"not a resource request: {method} {path_qs}")
    if len(rest) >= 3 and rest[0] == "namespaces":
        rest = rest[2:]  # namespaced: /namespaces/<ns>/<resource>[/<name>[/<sub>]]
    resource, named = rest[0], len(rest) >= 2
    if len(rest) >= 3:
        resource = f"{resource}/{rest[2]}"
    query = parse_qs(url.query)
    watching = query.get("watch", [""])[0].lower() in ("true", "1")
    verb = {
        "GET": "watch" if watching else ("get" if named else "list"),
        "POST": "create",
        "PUT": "update",
        "PATCH": "patch",
        "DELETE": "delete" if named else "deletecollection",
    }[method]
    return group, resource, verb


@pytest.mark.parametrize(
    ("request_line", "expected"),
    [
        ("GET /api/v1/namespaces?labelSelector=heritage%3Ddeis", ("", "namespaces", "list")),
        ("GET /api/v1/pods?watch=true&resourceVersion=5", ("", "pods", "watch")),
        ("PUT /api/v1/namespaces/myapp", ("", "namespaces", "update")),
        ("DELETE /api/v1/namespaces/myapp", ("", "namespaces", "delete")),
        ("POST /api/v1/namespaces/myapp/secrets", ("", "secrets", "create")),
        ("GET /api/v1/namespaces/myapp/pods/web-1/log?tailLines=20", ("", "pods/log", "get")),
        ("PUT /apis/apps/v1/namespaces/a/deployments/a-web", ("apps", "deployments", "update")),
        (
            "GET /apis/autoscaling/v2/horizontalpodautoscalers",
            ("autoscaling", "horizontalpodautoscalers", "list"),
        ),
    ],
)
def test_requests_are_read_as_rbac_reads_them(request_line, expected):
    method, path = request_line.split(" ", 1)
    assert call(method, path) == expected


def allowed(rules: list[dict[str, list[str]]], wanted: Call) -> bool:
    group, resource, verb = wanted
    return any(
        group in rule.get("apiGroups", [])
        and resource in rule.get("resources", [])
        and verb in rule.get("verbs", [])
        for rule in rules
    )


@pytest.mark.timeout(300)
def test_the_scheduler_may_make_every_call_its_backend_tests_make(chart, tmp_path):
    log = tmp_path / "requests.log"
    tests = [str(ROOT / "services/scheduler/tests/kubernetes" / name) for name in BACKEND_TESTS]
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-x", *tests],
        cwd=ROOT,
        env={**os.environ, KUBE_REQUEST_LOG: str(log)},
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    lines = log.read_text().splitlines()
    assert len(lines) > 100, "the backend's tests made too few calls to say anything"
    made = {call(*line.split(" ", 1)) for line in lines}
    role = chart.find(chart.render({}), "ClusterRole", "deis-scheduler")
    missing = sorted(c for c in made if not allowed(role["rules"], c))
    assert not missing, f"the chart's ClusterRole refuses calls the backend makes: {missing}"
    # The calls that matter most are among those recorded, or this proves little.
    for expected in [
        ("", "namespaces", "create"),
        ("apps", "deployments", "update"),
        ("", "pods/log", "get"),
        ("", "nodes", "list"),
        ("apps", "replicasets", "watch"),
    ]:
        assert expected in made, expected


def test_the_scheduler_may_touch_only_the_kinds_the_backend_makes(chart):
    known = {
        f"{kind.name}s" if not kind.name.endswith("s") else kind.name for kind in KINDS.values()
    }
    known = {k.replace("ys", "ies") if k.endswith("policys") else k for k in known}
    known |= {"pods/log", "horizontalpodautoscalers", "networkpolicies", "replicasets"}
    role = chart.find(chart.render({}), "ClusterRole", "deis-scheduler")
    granted = {resource for rule in role["rules"] for resource in rule["resources"]}
    assert granted <= known, granted - known
    verbs = {verb for rule in role["rules"] for verb in rule["verbs"]}
    assert verbs <= {"get", "list", "watch", "create", "update", "delete"}
    assert all(
        "*" not in rule["resources"] + rule["verbs"] + rule["apiGroups"] for rule in role["rules"]
    )
