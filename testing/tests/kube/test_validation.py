"""Every object written is validated, strictly, for Kubernetes 1.29 and 1.37."""

import asyncio
import json
from typing import Any

import kubernetes_validate
import pytest
from kubernetes_asyncio import client

from deis_testing.kube import KubeEmulator, validation

GOOD = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web", "namespace": "demo"},
    "spec": {
        "selector": {"matchLabels": {"run": "web"}},
        "template": {
            "metadata": {"labels": {"run": "web"}},
            "spec": {"containers": [{"name": "main", "image": "app:1"}]},
        },
    },
}


def with_container_field(**fields: object) -> dict[str, Any]:
    bad: dict[str, Any] = json.loads(json.dumps(GOOD))
    bad["spec"]["template"]["spec"]["containers"][0].update(fields)
    return bad


@pytest.mark.parametrize(
    "obj",
    [
        GOOD,
        with_container_field(bogus=1),
        with_container_field(ports=[{"containerPort": "eighty"}]),
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}, "extra": True},
    ],
)
def test_the_cached_validator_agrees_with_kubernetes_validate(obj) -> None:
    for version in validation.VERSIONS:
        try:
            kubernetes_validate.validate(obj, version, strict=True)
            expected_valid = True
        except kubernetes_validate.ValidationError:
            expected_valid = False
        assert (validation.problems(obj, (version,)) == []) is expected_valid


async def test_an_invalid_object_is_refused_with_422_and_recorded(
    kube_api: KubeEmulator, apps, ns
) -> None:
    body = with_container_field(bogus=1)
    with pytest.raises(client.ApiException) as caught:
        await apps.create_namespaced_deployment(ns, body)
    status = json.loads(caught.value.body or b"{}")
    assert (caught.value.status, status["reason"]) == (422, "Invalid")
    assert "'bogus' was unexpected" in status["message"]
    assert status["details"]["kind"] == "Deployment"
    assert [(i.verb, i.kind, i.namespace, i.name) for i in kube_api.invalid] == [
        ("create", "Deployment", ns, "web")
    ]
    assert any(p.startswith("1.29: ") for p in kube_api.invalid[0].problems)
    assert any(p.startswith("1.37: ") for p in kube_api.invalid[0].problems)
    assert kube_api.problems() and "invalid object refused" in kube_api.problems()[0]
    kube_api.invalid.clear()  # sent on purpose: the fixture would fail the test otherwise


async def test_patches_are_validated_as_the_object_they_make(
    kube_api: KubeEmulator, apps, ns
) -> None:
    await apps.create_namespaced_deployment(ns, GOOD)
    with pytest.raises(client.ApiException) as caught:
        await apps.patch_namespaced_deployment("web", ns, {"spec": {"replicas": "three"}})
    assert caught.value.status == 422
    assert kube_api.invalid[0].verb == "patch"
    kube_api.invalid.clear()


async def test_a_field_newer_than_1_29_is_refused(kube_api: KubeEmulator, core, ns) -> None:
    # Pod-level `resources` arrived in Kubernetes 1.32: valid for 1.37, not for 1.29.
    body = {
        "metadata": {"name": "p"},
        "spec": {
            "resources": {"limits": {"cpu": "1"}},
            "containers": [{"name": "main", "image": "app:1"}],
        },
    }
    with pytest.raises(client.ApiException) as caught:
        await core.create_namespaced_pod(ns, body)
    assert caught.value.status == 422
    assert [p.split(":")[0] for p in kube_api.invalid[0].problems] == ["1.29"]
    kube_api.invalid.clear()


async def test_what_the_controllers_write_is_valid_too(
    kube_api: KubeEmulator, apps, core, ns
) -> None:
    from deis_testing.kube import Behaviour, Crash, ImagePullFailure, Ready, kinds

    chosen: dict[str, Behaviour] = {"crash:1": Crash(delay=0.01), "missing:1": ImagePullFailure()}
    kube_api.behaviour = lambda pod: chosen.get(
        pod["spec"]["containers"][0]["image"], Ready(delay=0.01)
    )
    await apps.create_namespaced_deployment(ns, GOOD)
    for name, image, extra in (
        ("c", "crash:1", {}),
        ("m", "missing:1", {}),
        ("u", "app:1", {"nodeSelector": {"zone": "none"}}),
        ("r", "app:1", {"restartPolicy": "Never"}),
    ):
        await core.create_namespaced_pod(
            ns,
            {
                "metadata": {"name": name},
                "spec": {"containers": [{"name": "main", "image": image}], **extra},
            },
        )
    await core.create_namespaced_service(
        ns, {"metadata": {"name": "s"}, "spec": {"ports": [{"port": 80}]}}
    )
    await asyncio.sleep(0.3)
    await core.delete_namespace("kube-public")
    found = []
    for kind in kinds.KINDS:
        for obj in kube_api.store.select(kind):
            found += [
                f"{kind.kind} {obj['metadata']['name']}: {p}" for p in validation.problems(obj)
            ]
    assert found == []
