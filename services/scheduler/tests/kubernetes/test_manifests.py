"""What one desired state becomes on a cluster: every object valid for Kubernetes 1.29 and 1.37
(strict), and carrying what Deis promises (environment, limits, probes, isolation)."""

import base64
import json
import uuid
from datetime import UTC, datetime

import kubernetes_validate
import pytest

from deis_scheduler.kubernetes import manifests
from deis_scheduler.settings import SchedulerSettings
from deis_shared import processtypes
from deis_shared.kv import desired as desired_kv

VERSIONS = ("1.29.0", "1.37.0")
WHEN = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
PROBE = desired_kv.Probe.model_validate(
    {"httpGet": {"port": 5000, "path": "/healthz"}, "initialDelaySeconds": 2}
)


def slug_state(**changes: object) -> desired_kv.DesiredState:
    state = desired_kv.DesiredState(
        app="myapp",
        release=desired_kv.DesiredRelease(id=uuid.uuid4(), version=3, summary="v3", created=WHEN),
        build=desired_kv.DesiredBuild(
            id=uuid.uuid4(),
            sha="abc1234",
            slug_key="slugs/myapp/abc1234.tar.gz",
            procfile={"web": "python app.py", "worker": "python worker.py"},
        ),
        formation={"web": 2, "worker": 1},
        config={"GREETING": "hi", "SECRET_TOKEN": "s3cret"},
        limits=desired_kv.Limits(memory={"web": "100M/200M"}, cpu={"web": "250m/500m"}),
        healthchecks={"web": desired_kv.Healthcheck(readiness_probe=PROBE, liveness_probe=PROBE)},
        tags={"zone": "a"},
        registry={"username": "u", "password": "p", "hostname": "registry.example.com"},
        port=5000,
        routable=True,
        maintenance=False,
        autoscale={"worker": desired_kv.Autoscale(min=1, max=4, cpu_percent=70)},
    )
    return state.model_copy(update=changes)


def image_state() -> desired_kv.DesiredState:
    return slug_state(
        build=None,
        image=desired_kv.DesiredImage(id=uuid.uuid4(), image="example/app:1.0", sha="v1.0"),
        formation={"cmd": 1},
        registry={},
        tags={},
        autoscale={},
        healthchecks={},
        limits=desired_kv.Limits(),
    )


DATA_PLANE_TAINT = {
    "key": "deis.io/plane",
    "operator": "Equal",
    "value": "data",
    "effect": "NoSchedule",
}
SETTINGS = SchedulerSettings(
    kube_app_node_selector={"deis.io/plane": "data"}, kube_app_tolerations=[DATA_PLANE_TAINT]
)


def every_object(state: desired_kv.DesiredState) -> list[manifests.Manifest]:
    types = manifests.process_types(state)
    objects = [
        manifests.namespace(state.app),
        manifests.env_secret(state),
        manifests.store_secret(state.app, {"DEIS_OBJECT_STORE": "s3", "DEIS_S3_BUCKET": "deis"}),
        manifests.network_policy(state.app, settings=SETTINGS),
        manifests.run_pod(
            state, name="myapp-run-abcde", command="ls -l", timeout=30, settings=SETTINGS
        ),
    ]
    registry = manifests.registry_secret(state)
    if registry is not None:
        objects.append(registry)
    for kind in types:
        objects.append(manifests.deployment(state, kind=kind, settings=SETTINGS, replicas=1))
        if kind in processtypes.ROUTABLE:
            objects.append(manifests.service(state, kind=kind, settings=SETTINGS))
        if kind in state.autoscale:
            objects.append(manifests.autoscaler(state, kind=kind))
    return objects


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("state", [slug_state(), image_state()], ids=["slug", "image"])
def test_every_object_is_valid_kubernetes_in_strict_mode(version, state):
    for manifest in every_object(state):
        kubernetes_validate.validate(manifest, version, strict=True)


def container(manifest):
    return manifest["spec"]["template"]["spec"]["containers"][0]


def test_a_slug_process_runs_in_the_runner_as_deis_sets_it_up():
    state = slug_state()
    web = manifests.deployment(state, kind="web", settings=SETTINGS, replicas=2)
    assert web["metadata"]["name"] == "myapp-web"
    assert web["spec"]["replicas"] == 2
    assert web["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    assert web["spec"]["progressDeadlineSeconds"] == SETTINGS.kube_progress_deadline
    labels = web["spec"]["template"]["metadata"]["labels"]
    assert labels == {"heritage": "deis", "app": "myapp", "type": "web", "version": "v3"}
    box = container(web)
    assert box["image"] == SETTINGS.kube_runner_image
    assert box["args"] == ["start", "web"]
    env = {item["name"]: item["value"] for item in box["env"]}
    assert env["PORT"] == "5000"
    assert env["DEIS_APP"] == "myapp"
    assert env["WORKFLOW_RELEASE"] == "v3"
    assert env["SOURCE_VERSION"] == "abc1234"
    assert env["DEIS_SLUG_KEY"] == "slugs/myapp/abc1234.tar.gz"
    assert env["DEIS_COMMAND"] == "python app.py"
    assert "GREETING" not in env  # config comes from the release's Secret, not the spec
    assert {"secretRef": {"name": "myapp-v3-env"}} in box["envFrom"]
    assert box["resources"] == {
        "requests": {"memory": str(100 << 20), "cpu": "250m"},
        "limits": {"memory": str(200 << 20), "cpu": "500m"},
    }
    assert box["readinessProbe"]["httpGet"]["path"] == "/healthz"
    assert box["livenessProbe"]["initialDelaySeconds"] == 2
    pod = web["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"deis.io/plane": "data", "zone": "a"}
    assert pod["tolerations"] == [DATA_PLANE_TAINT]
    assert pod["imagePullSecrets"] == [{"name": "registry"}]


def test_app_pods_run_unprivileged_without_a_token():
    for state in (slug_state(), image_state()):
        for kind in manifests.process_types(state):
            pod = manifests.deployment(state, kind=kind, settings=SETTINGS, replicas=1)
            spec = pod["spec"]["template"]["spec"]
            assert spec["automountServiceAccountToken"] is False
            assert spec["securityContext"]["runAsNonRoot"] is True
            security = spec["containers"][0]["securityContext"]
            assert security["allowPrivilegeEscalation"] is False
            assert security["capabilities"] == {"drop": ["ALL"]}
    runner = container(
        manifests.deployment(slug_state(), kind="web", settings=SETTINGS, replicas=1)
    )
    assert runner["securityContext"]["readOnlyRootFilesystem"] is True
    assert runner["securityContext"]["runAsUser"] == SETTINGS.kube_run_as_user


def test_the_config_lives_in_a_secret_of_the_release():
    secret = manifests.env_secret(slug_state())
    assert secret["kind"] == "Secret"
    assert secret["metadata"]["name"] == "myapp-v3-env"
    decoded = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    assert decoded == {"GREETING": "hi", "SECRET_TOKEN": "s3cret"}


def test_an_image_release_runs_its_image_as_cmd():
    state = image_state()
    assert manifests.process_types(state) == {"cmd": None}
    cmd = container(manifests.deployment(state, kind="cmd", settings=SETTINGS, replicas=1))
    assert cmd["image"] == "example/app:1.0"
    assert "command" not in cmd and "args" not in cmd  # the image's own
    env = {item["name"]: item["value"] for item in cmd["env"]}
    assert env["SOURCE_VERSION"] == "v1.0"
    assert "DEIS_SLUG_KEY" not in env
    service = manifests.service(state, kind="cmd", settings=SETTINGS)
    assert service["spec"]["selector"] == {"app": "myapp", "type": "cmd"}


def test_the_registry_secret_holds_docker_credentials():
    secret = manifests.registry_secret(slug_state())
    assert secret is not None
    config = json.loads(base64.b64decode(secret["data"][".dockerconfigjson"]))
    auth = config["auths"]["registry.example.com"]["auth"]
    assert base64.b64decode(auth).decode() == "u:p"
    assert manifests.registry_secret(slug_state(registry={})) is None


def test_the_network_policy_admits_only_the_router_and_keeps_out_of_the_platform():
    policy = manifests.network_policy("myapp", settings=SETTINGS)["spec"]
    assert policy["podSelector"] == {}
    (ingress,) = policy["ingress"]
    (source,) = ingress["from"]
    assert source["podSelector"]["matchLabels"] == SETTINGS.kube_router_labels
    assert source["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": SETTINGS.kube_platform_namespace
    }
    elsewhere = policy["egress"][0]["to"][0]["namespaceSelector"]["matchExpressions"][0]
    assert elsewhere["operator"] == "NotIn"
    assert elsewhere["values"] == [SETTINGS.kube_platform_namespace]


def test_the_spec_hash_changes_with_the_release_and_not_otherwise():
    one = manifests.deployment(slug_state(), kind="web", settings=SETTINGS, replicas=2)
    again = manifests.deployment(slug_state(), kind="web", settings=SETTINGS, replicas=2)
    scaled = manifests.deployment(slug_state(), kind="web", settings=SETTINGS, replicas=3)
    hashes = [m["metadata"]["annotations"][manifests.SPEC_HASH] for m in (one, again, scaled)]
    assert hashes[0] == hashes[1] != hashes[2]


def test_app_pods_tolerate_nothing_unless_told():
    web = manifests.deployment(slug_state(), kind="web", settings=SchedulerSettings(), replicas=1)
    assert "tolerations" not in web["spec"]["template"]["spec"]


def test_tolerations_come_from_the_environment_as_the_chart_gives_them(monkeypatch):
    monkeypatch.setenv("DEIS_KUBE_APP_TOLERATIONS", json.dumps([DATA_PLANE_TAINT]))
    assert SchedulerSettings().kube_app_tolerations == [DATA_PLANE_TAINT]
