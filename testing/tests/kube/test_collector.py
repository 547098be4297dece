"""Owner references: dependents go with their owners, per propagationPolicy."""

import asyncio
from typing import Any

from kubernetes_asyncio import client

from deis_testing.kube import KubeEmulator


def deployment(name: str = "web", replicas: int = 2) -> dict[str, Any]:
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


async def running(kube_api: KubeEmulator, ns: str, count: int) -> None:
    def ready() -> bool:
        pods = kube_api.objects("pods", ns)
        return len(pods) == count and all(p["status"].get("phase") == "Running" for p in pods)

    async with asyncio.timeout(5):
        await kube_api.until(ready)


async def test_deleting_a_deployment_takes_its_replica_sets_and_pods(
    kube_api: KubeEmulator, apps, ns
) -> None:
    await apps.create_namespaced_deployment(ns, deployment())
    await running(kube_api, ns, 2)
    await apps.delete_namespaced_deployment("web", ns)
    async with asyncio.timeout(5):
        await kube_api.until(
            lambda: not kube_api.objects("replicasets", ns) and not kube_api.objects("pods", ns)
        )


async def test_foreground_deletion_waits_for_the_dependents(
    kube_api: KubeEmulator, apps, ns
) -> None:
    await apps.create_namespaced_deployment(ns, deployment())
    await running(kube_api, ns, 2)
    answer = await apps.delete_namespaced_deployment(
        "web", ns, body=client.V1DeleteOptions(propagation_policy="Foreground")
    )
    assert answer.kind == "Deployment"  # still there, read as a V1Status
    waiting = await apps.read_namespaced_deployment("web", ns)
    assert waiting.metadata.deletion_timestamp is not None
    assert waiting.metadata.finalizers == ["foregroundDeletion"]
    async with asyncio.timeout(5):
        await kube_api.until(lambda: kube_api.get("deployments", ns, "web") is None)
    assert kube_api.objects("replicasets", ns) == [] and kube_api.objects("pods", ns) == []


async def test_orphaning_leaves_the_dependents(kube_api: KubeEmulator, apps, ns) -> None:
    await apps.create_namespaced_deployment(ns, deployment())
    await running(kube_api, ns, 2)
    await apps.delete_namespaced_deployment("web", ns, propagation_policy="Orphan")
    [rs] = (await apps.list_namespaced_replica_set(ns)).items
    assert rs.metadata.owner_references is None
    await asyncio.sleep(0.1)  # the collector would have acted by now
    assert len(kube_api.objects("pods", ns)) == 2
