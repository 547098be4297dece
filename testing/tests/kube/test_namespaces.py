"""Namespaces: a default ServiceAccount in each; termination that takes their contents."""

import asyncio
import json

import pytest
from kubernetes_asyncio import client

from deis_testing.kube import KubeEmulator


async def test_a_new_namespace_gets_a_default_service_account(
    kube_api: KubeEmulator, core, ns
) -> None:
    async with asyncio.timeout(5):
        await kube_api.until(lambda: kube_api.get("serviceaccounts", ns, "default") is not None)
    accounts = await core.list_namespaced_service_account(ns)
    assert [a.metadata.name for a in accounts.items] == ["default"]
    namespace = await core.read_namespace(ns)
    assert namespace.metadata.labels == {"kubernetes.io/metadata.name": ns}
    assert namespace.status.phase == "Active"


async def test_a_deleted_namespace_terminates_then_goes_with_its_contents(
    kube_api: KubeEmulator, core, apps, ns, watch_until
) -> None:
    await core.create_namespaced_config_map(ns, {"metadata": {"name": "cfg"}})
    await core.create_namespaced_pod(
        ns, {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "app:1"}]}}
    )
    async with asyncio.timeout(5):
        await kube_api.until(
            lambda: (kube_api.get("pods", ns, "p") or {}).get("status", {}).get("phase")
            == "Running"
        )
    listed = await core.list_namespace()
    answer = await core.delete_namespace(ns)
    assert answer.kind == "Namespace"  # the namespace itself, still there, read as a V1Status
    terminating = await core.read_namespace(ns)
    assert terminating.status.phase == "Terminating"
    assert terminating.metadata.deletion_timestamp is not None
    with pytest.raises(client.ApiException) as caught:
        await core.create_namespaced_config_map(ns, {"metadata": {"name": "late"}})
    status = json.loads(caught.value.body or b"{}")
    assert (caught.value.status, status["reason"]) == (403, "Forbidden")
    assert "because it is being terminated" in status["message"]
    seen = await watch_until(
        core.list_namespace,
        field_selector=f"metadata.name={ns}",
        resource_version=listed.metadata.resource_version,
        until=lambda e: e["type"] == "DELETED",
    )
    assert [e["type"] for e in seen] == ["MODIFIED", "DELETED"]
    assert kube_api.objects("configmaps", ns) == []
    assert kube_api.objects("pods", ns) == []
    assert kube_api.objects("serviceaccounts", ns) == []
    with pytest.raises(client.ApiException) as caught:
        await core.read_namespace(ns)
    assert caught.value.status == 404


async def test_deleting_a_terminating_namespace_again_is_harmless(core, ns) -> None:
    await core.delete_namespace(ns)
    again = await core.delete_namespace(ns)
    assert again.kind == "Namespace"
    assert (await core.read_namespace(ns)).status.phase == "Terminating"
