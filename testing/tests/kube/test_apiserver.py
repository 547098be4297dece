"""Create, read, list, replace, patch and delete, with the API server's answers and errors."""

import json
from typing import Any

import pytest
from kubernetes_asyncio import client

from deis_testing.kube import KubeEmulator


def status_of(error: client.ApiException) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(error.body or b"{}")
    assert body["kind"] == "Status" and body["status"] == "Failure"
    assert body["code"] == error.status
    return body


def config_map(name: str, labels: dict[str, Any] | None = None, **data: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": labels or {}}, "data": data}


def deployment(name: str = "web", replicas: int = 1) -> dict[str, Any]:
    labels = {"run": name}
    return {
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "main", "image": "app:1"}]},
            },
        },
    }


async def test_create_fills_in_what_the_server_owns(core, ns) -> None:
    first = await core.create_namespaced_config_map(ns, config_map("a", k="v"))
    second = await core.create_namespaced_config_map(ns, config_map("b"))
    assert first.metadata.uid and first.metadata.uid != second.metadata.uid
    assert first.metadata.creation_timestamp is not None
    assert int(second.metadata.resource_version) > int(first.metadata.resource_version)
    assert first.metadata.namespace == ns
    read = await core.read_namespaced_config_map("a", ns)
    assert read.data == {"k": "v"}
    assert read.metadata.resource_version == first.metadata.resource_version


async def test_generate_name(core, ns) -> None:
    made = await core.create_namespaced_config_map(ns, {"metadata": {"generateName": "cfg-"}})
    assert made.metadata.name.startswith("cfg-") and len(made.metadata.name) == 9


async def test_get_of_a_missing_object_is_404(core, apps, ns) -> None:
    with pytest.raises(client.ApiException) as caught:
        await apps.read_namespaced_deployment("nothing", ns)
    body = status_of(caught.value)
    assert (caught.value.status, body["reason"]) == (404, "NotFound")
    assert body["message"] == 'deployments.apps "nothing" not found'
    assert body["details"] == {"name": "nothing", "group": "apps", "kind": "deployments"}


async def test_creating_twice_is_409_already_exists(core, ns) -> None:
    await core.create_namespaced_config_map(ns, config_map("a"))
    with pytest.raises(client.ApiException) as caught:
        await core.create_namespaced_config_map(ns, config_map("a"))
    assert (caught.value.status, status_of(caught.value)["reason"]) == (409, "AlreadyExists")


async def test_creating_in_a_missing_namespace_is_404(core) -> None:
    with pytest.raises(client.ApiException) as caught:
        await core.create_namespaced_config_map("nowhere", config_map("a"))
    assert status_of(caught.value)["message"] == 'namespaces "nowhere" not found'


async def test_replace_with_a_stale_resource_version_is_409_conflict(core, ns) -> None:
    made = await core.create_namespaced_config_map(ns, config_map("a", k="1"))
    made.data = {"k": "2"}
    replaced = await core.replace_namespaced_config_map("a", ns, made)
    assert replaced.data == {"k": "2"}
    assert int(replaced.metadata.resource_version) > int(made.metadata.resource_version)
    made.data = {"k": "3"}  # still carries the first resourceVersion
    with pytest.raises(client.ApiException) as caught:
        await core.replace_namespaced_config_map("a", ns, made)
    assert (caught.value.status, status_of(caught.value)["reason"]) == (409, "Conflict")
    assert (await core.read_namespaced_config_map("a", ns)).data == {"k": "2"}


async def test_a_write_that_changes_nothing_keeps_the_resource_version(core, ns) -> None:
    made = await core.create_namespaced_config_map(ns, config_map("a", k="1"))
    again = await core.replace_namespaced_config_map("a", ns, made)
    assert again.metadata.resource_version == made.metadata.resource_version


async def test_generation_follows_the_spec_only(apps, ns) -> None:
    made = await apps.create_namespaced_deployment(ns, deployment())
    assert made.metadata.generation == 1
    labelled = await apps.patch_namespaced_deployment(
        "web", ns, {"metadata": {"labels": {"x": "y"}}}
    )
    assert labelled.metadata.generation == 1
    scaled = await apps.patch_namespaced_deployment("web", ns, {"spec": {"replicas": 3}})
    assert scaled.metadata.generation == 2


async def test_server_defaults(core, apps, ns) -> None:
    made = await apps.create_namespaced_deployment(ns, deployment())
    assert made.spec.strategy.type == "RollingUpdate"
    assert (
        made.spec.strategy.rolling_update.max_surge,
        made.spec.strategy.rolling_update.max_unavailable,
    ) == ("25%", "25%")
    assert (made.spec.revision_history_limit, made.spec.progress_deadline_seconds) == (10, 600)
    container = made.spec.template.spec.containers[0]
    assert container.image_pull_policy == "IfNotPresent"
    assert made.spec.template.spec.restart_policy == "Always"
    secret = await core.create_namespaced_secret(
        ns, {"metadata": {"name": "s"}, "stringData": {"KEY": "value"}}
    )
    assert secret.data == {"KEY": "dmFsdWU="} and secret.type == "Opaque"
    service = await core.create_namespaced_service(
        ns, {"metadata": {"name": "svc"}, "spec": {"ports": [{"port": 80}]}}
    )
    assert service.spec.type == "ClusterIP" and service.spec.cluster_ip.startswith("10.96.")
    assert service.spec.ports[0].target_port == 80


async def test_merge_patch_removes_keys_with_null(core, ns) -> None:
    await core.create_namespaced_config_map(ns, config_map("a", k="1", gone="x"))
    patched = await core.patch_namespaced_config_map(
        "a",
        ns,
        {"data": {"gone": None, "new": "2"}},
        _content_type="application/merge-patch+json",
    )
    assert patched.data == {"k": "1", "new": "2"}


async def test_strategic_merge_patch_replaces_lists(apps, ns) -> None:
    await apps.create_namespaced_deployment(ns, deployment())
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "other", "image": "b:2"}]}}}}
    patched = await apps.patch_namespaced_deployment("web", ns, patch)  # strategic by default
    assert [c.name for c in patched.spec.template.spec.containers] == ["other"]
    assert patched.spec.template.spec.containers[0].image_pull_policy == "IfNotPresent"


async def test_json_patch(core, ns) -> None:
    await core.create_namespaced_config_map(ns, config_map("a", k="1"))
    patched = await core.patch_namespaced_config_map(
        "a",
        ns,
        [
            {"op": "test", "path": "/data/k", "value": "1"},
            {"op": "replace", "path": "/data/k", "value": "2"},
            {"op": "add", "path": "/metadata/labels/tier", "value": "web"},
        ],
    )
    assert patched.data == {"k": "2"} and patched.metadata.labels == {"tier": "web"}
    with pytest.raises(client.ApiException) as caught:
        await core.patch_namespaced_config_map(
            "a", ns, [{"op": "test", "path": "/data/k", "value": "1"}]
        )
    assert caught.value.status == 422


async def test_patch_with_a_stale_resource_version_is_409(core, ns) -> None:
    made = await core.create_namespaced_config_map(ns, config_map("a", k="1"))
    await core.patch_namespaced_config_map("a", ns, {"data": {"k": "2"}})
    with pytest.raises(client.ApiException) as caught:
        await core.patch_namespaced_config_map(
            "a",
            ns,
            {"metadata": {"resourceVersion": made.metadata.resource_version}, "data": {"k": "3"}},
        )
    assert caught.value.status == 409


async def test_status_is_written_through_its_subresource_only(apps, ns) -> None:
    await apps.create_namespaced_deployment(ns, deployment(replicas=0))
    body = deployment(replicas=0)
    body["status"] = {"replicas": 7}
    replaced = await apps.replace_namespaced_deployment("web", ns, body)
    assert (replaced.status.replicas or 0) == 0
    current = await apps.read_namespaced_deployment("web", ns)
    current.status.observed_generation = 99
    written = await apps.replace_namespaced_deployment_status("web", ns, current)
    assert written.status.observed_generation == 99
    patched = await apps.patch_namespaced_deployment_status(
        "web", ns, {"spec": {"replicas": 5}, "status": {"observedGeneration": 98}}
    )
    assert (patched.spec.replicas, patched.status.observed_generation) == (0, 98)


async def test_scale_subresource(apps, ns) -> None:
    await apps.create_namespaced_deployment(ns, deployment(replicas=1))
    scale = await apps.read_namespaced_deployment_scale("web", ns)
    assert (scale.kind, scale.spec.replicas, scale.status.selector) == ("Scale", 1, "run=web")
    scaled = await apps.patch_namespaced_deployment_scale("web", ns, {"spec": {"replicas": 3}})
    assert scaled.spec.replicas == 3
    assert (await apps.read_namespaced_deployment("web", ns)).spec.replicas == 3
    scale = await apps.read_namespaced_deployment_scale("web", ns)
    scale.spec.replicas = 0
    assert (await apps.replace_namespaced_deployment_scale("web", ns, scale)).spec.replicas == 0


async def test_immutable_selector(apps, ns, kube_api: KubeEmulator) -> None:
    await apps.create_namespaced_deployment(ns, deployment())
    with pytest.raises(client.ApiException) as caught:
        await apps.patch_namespaced_deployment(
            "web", ns, {"spec": {"selector": {"matchLabels": {"run": "other"}}}}
        )
    assert caught.value.status == 422
    assert "field is immutable" in status_of(caught.value)["message"]
    assert len(kube_api.invalid) == 1
    kube_api.invalid.clear()


async def test_list_with_label_selectors(core, ns) -> None:
    for name, labels in (
        ("a", {"app": "x", "tier": "web"}),
        ("b", {"app": "x", "tier": "db"}),
        ("c", {"app": "y"}),
        ("d", {}),
    ):
        await core.create_namespaced_config_map(ns, config_map(name, labels))

    async def names(selector: str) -> list[str]:
        listed = await core.list_namespaced_config_map(ns, label_selector=selector)
        return [item.metadata.name for item in listed.items]

    assert await names("app=x") == ["a", "b"]
    assert await names("app==x,tier!=db") == ["a"]
    assert await names("tier!=db") == ["a", "c", "d"]
    assert await names("app in (x, y),tier notin (web)") == ["b", "c"]
    assert await names("tier") == ["a", "b"]
    assert await names("!app") == ["d"]
    with pytest.raises(client.ApiException) as caught:
        await names("app in x")
    assert caught.value.status == 400


async def test_list_across_namespaces_with_a_field_selector(core, ns) -> None:
    await core.create_namespace({"metadata": {"name": "other"}})
    await core.create_namespaced_config_map(ns, config_map("same", {"app": "x"}))
    await core.create_namespaced_config_map("other", config_map("same", {"app": "x"}))
    await core.create_namespaced_config_map("other", config_map("else", {"app": "x"}))
    listed = await core.list_config_map_for_all_namespaces(
        label_selector="app=x", field_selector="metadata.name=same"
    )
    assert [(i.metadata.namespace, i.metadata.name) for i in listed.items] == [
        (ns, "same"),
        ("other", "same"),
    ]
    assert listed.kind == "ConfigMapList"
    assert int(listed.metadata.resource_version) >= int(listed.items[-1].metadata.resource_version)


async def test_list_pages_with_limit_and_continue(core, ns) -> None:
    for name in "abcde":
        await core.create_namespaced_config_map(ns, config_map(name))
    first = await core.list_namespaced_config_map(ns, limit=3)
    assert [i.metadata.name for i in first.items] == ["a", "b", "c"]
    assert first.metadata.remaining_item_count == 2
    rest = await core.list_namespaced_config_map(ns, limit=3, _continue=first.metadata._continue)
    assert [i.metadata.name for i in rest.items] == ["d", "e"]
    assert rest.metadata._continue is None


async def test_delete_answers_a_success_status(core, apps, ns) -> None:
    made = await core.create_namespaced_config_map(ns, config_map("a"))
    answer = await core.delete_namespaced_config_map("a", ns)
    assert answer.status == "Success" and answer.details.uid == made.metadata.uid
    with pytest.raises(client.ApiException) as caught:
        await core.delete_namespaced_config_map("a", ns)
    assert caught.value.status == 404


async def test_delete_with_a_stale_precondition_is_409(core, ns) -> None:
    made = await core.create_namespaced_config_map(ns, config_map("a"))
    await core.patch_namespaced_config_map("a", ns, {"data": {"k": "v"}})
    options = client.V1DeleteOptions(
        preconditions=client.V1Preconditions(resource_version=made.metadata.resource_version)
    )
    with pytest.raises(client.ApiException) as caught:
        await core.delete_namespaced_config_map("a", ns, body=options)
    assert caught.value.status == 409


async def test_finalizers_hold_an_object_until_removed(core, ns) -> None:
    await core.create_namespaced_config_map(
        ns, {"metadata": {"name": "held", "finalizers": ["example.com/hold"]}}
    )
    await core.delete_namespaced_config_map("held", ns)
    held = await core.read_namespaced_config_map("held", ns)
    assert held.metadata.deletion_timestamp is not None
    await core.patch_namespaced_config_map("held", ns, {"metadata": {"finalizers": None}})
    with pytest.raises(client.ApiException) as caught:
        await core.read_namespaced_config_map("held", ns)
    assert caught.value.status == 404


async def test_delete_collection(core, ns) -> None:
    for name, app in (("a", "x"), ("b", "x"), ("c", "y")):
        await core.create_namespaced_config_map(ns, config_map(name, {"app": app}))
    await core.delete_collection_namespaced_config_map(ns, label_selector="app=x")
    listed = await core.list_namespaced_config_map(ns)
    assert [i.metadata.name for i in listed.items] == ["c"]


async def test_other_kinds_round_trip(api, ns) -> None:
    # Plain dicts for bodies, as a client may send them (the models' types say otherwise).
    autoscaling: Any = client.AutoscalingV2Api(api)
    networking: Any = client.NetworkingV1Api(api)
    budgets: Any = client.PolicyV1Api(api)
    core: Any = client.CoreV1Api(api)
    hpa = await autoscaling.create_namespaced_horizontal_pod_autoscaler(
        ns,
        {
            "metadata": {"name": "web"},
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                "maxReplicas": 5,
            },
        },
    )
    assert hpa.spec.min_replicas == 1
    policy = await networking.create_namespaced_network_policy(
        ns, {"metadata": {"name": "deny"}, "spec": {"podSelector": {}}}
    )
    assert policy.spec.policy_types == ["Ingress"]
    budget = await budgets.create_namespaced_pod_disruption_budget(
        ns,
        {
            "metadata": {"name": "web"},
            "spec": {"minAvailable": 1, "selector": {"matchLabels": {"run": "web"}}},
        },
    )
    assert budget.spec.min_available == 1
    account = await core.create_namespaced_service_account(ns, {"metadata": {"name": "robot"}})
    assert account.metadata.name == "robot"
    event = await core.create_namespaced_event(
        ns,
        {
            "metadata": {"name": "e1"},
            "involvedObject": {"kind": "Pod", "name": "x"},
            "reason": "Test",
            "message": "hello",
        },
    )
    assert event.reason == "Test"


async def test_a_pod_spec_change_other_than_the_image_is_refused(
    core, ns, kube_api: KubeEmulator
) -> None:
    await core.create_namespaced_pod(
        ns, {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "a:1"}]}}
    )
    patched = await core.patch_namespaced_pod(
        "p", ns, {"spec": {"containers": [{"name": "c", "image": "a:2"}]}}
    )
    assert patched.spec.containers[0].image == "a:2"
    labelled = await core.patch_namespaced_pod("p", ns, {"metadata": {"labels": {"x": "y"}}})
    assert labelled.metadata.labels == {"x": "y"}
    with pytest.raises(client.ApiException) as caught:
        await core.patch_namespaced_pod("p", ns, {"spec": {"restartPolicy": "Never"}})
    assert caught.value.status == 422
    assert "pod updates may not change fields" in status_of(caught.value)["message"]
    kube_api.invalid.clear()


async def test_dry_run_changes_nothing(core, ns) -> None:
    made = await core.create_namespaced_config_map(ns, config_map("a", k="1"), dry_run="All")
    assert made.metadata.uid and made.data == {"k": "1"}
    with pytest.raises(client.ApiException):
        await core.read_namespaced_config_map("a", ns)
    await core.create_namespaced_config_map(ns, config_map("a", k="1"))
    patched = await core.patch_namespaced_config_map("a", ns, {"data": {"k": "2"}}, dry_run="All")
    assert patched.data == {"k": "2"}
    await core.delete_namespaced_config_map("a", ns, dry_run="All")
    assert (await core.read_namespaced_config_map("a", ns)).data == {"k": "1"}
