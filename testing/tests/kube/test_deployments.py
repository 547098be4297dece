"""The Deployment and ReplicaSet controllers: rollouts, failed rollouts, rollbacks, history."""

import asyncio
from typing import Any

from kubernetes_asyncio import client

from deis_testing.kube import Crash, KubeEmulator, Ready


def deployment(image: str = "app:1", replicas: int = 2, **spec: object) -> dict[str, Any]:
    labels = {"run": "web"}
    return {
        "metadata": {"name": "web"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
            },
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "main", "image": image}]},
            },
            **spec,
        },
    }


def template(image: str) -> dict[str, Any]:
    return {"spec": {"template": {"spec": {"containers": [{"name": "main", "image": image}]}}}}


def progressing(obj: dict[str, Any] | None) -> tuple[str, str]:
    for found in (obj or {}).get("status", {}).get("conditions", []):
        if found["type"] == "Progressing":
            return found["status"], found.get("reason", "")
    return "", ""


async def rolled_out(kube_api: KubeEmulator, ns: str) -> None:
    async with asyncio.timeout(5):
        await kube_api.until(
            lambda: progressing(kube_api.get("deployments", ns, "web"))
            == ("True", "NewReplicaSetAvailable")
        )


def is_ready(pod: client.V1Pod) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or [])


async def test_a_first_rollout(kube_api: KubeEmulator, apps, core, ns) -> None:
    made = await apps.create_namespaced_deployment(ns, deployment())
    assert made.status is None or made.status.replicas is None
    await rolled_out(kube_api, ns)
    current = await apps.read_namespaced_deployment("web", ns)
    status = current.status
    assert (
        status.observed_generation,
        status.replicas,
        status.updated_replicas,
        status.ready_replicas,
        status.available_replicas,
    ) == (1, 2, 2, 2, 2)
    assert status.unavailable_replicas is None  # zero counts are left out, as by Kubernetes
    conditions = {c.type: (c.status, c.reason) for c in status.conditions}
    assert conditions["Available"] == ("True", "MinimumReplicasAvailable")
    assert current.metadata.annotations["deployment.kubernetes.io/revision"] == "1"
    [rs] = (await apps.list_namespaced_replica_set(ns)).items
    hashed = rs.metadata.labels["pod-template-hash"]
    assert rs.metadata.name == f"web-{hashed}"
    assert rs.metadata.annotations["deployment.kubernetes.io/revision"] == "1"
    assert rs.metadata.owner_references[0].uid == made.metadata.uid
    assert rs.spec.selector.match_labels == {"run": "web", "pod-template-hash": hashed}
    pods = (await core.list_namespaced_pod(ns, label_selector=f"pod-template-hash={hashed}")).items
    assert len(pods) == 2 and all(is_ready(p) for p in pods)
    for pod in pods:
        assert pod.metadata.name.startswith(f"{rs.metadata.name}-")
        assert len(pod.metadata.name) == len(rs.metadata.name) + 6
        assert pod.metadata.owner_references[0].uid == rs.metadata.uid
        assert pod.spec.node_name == "node-1" and pod.status.pod_ip


async def test_a_rolling_update_with_max_unavailable_0_keeps_old_pods_until_new_are_ready(
    kube_api: KubeEmulator, apps, core, ns
) -> None:
    await apps.create_namespaced_deployment(ns, deployment())
    await rolled_out(kube_api, ns)
    old_pods = {p.metadata.name for p in (await core.list_namespaced_pod(ns)).items}
    listed = await core.list_namespaced_pod(ns)
    kube_api.behaviour = lambda pod: Ready(delay=0.1)
    await apps.patch_namespaced_deployment("web", ns, template("app:2"))

    serving: dict[str, bool] = {p.metadata.name: is_ready(p) for p in listed.items}
    lowest = len(serving)
    async with asyncio.timeout(5), client.ApiClient(kube_api.configuration()) as other:
        from kubernetes_asyncio import watch

        async with watch.Watch() as stream:
            async for event in stream.stream(
                client.CoreV1Api(other).list_namespaced_pod,
                ns,
                resource_version=listed.metadata.resource_version,
            ):
                pod = event["object"]
                gone = event["type"] == "DELETED" or pod.metadata.deletion_timestamp is not None
                serving[pod.metadata.name] = is_ready(pod) and not gone
                lowest = min(lowest, sum(serving.values()))
                new_ready = [n for n, ok in serving.items() if ok and n not in old_pods]
                if len(new_ready) == 2 and not any(serving[n] for n in old_pods):
                    break
    assert lowest >= 2  # never fewer ready pods than replicas
    await rolled_out(kube_api, ns)
    current = await apps.read_namespaced_deployment("web", ns)
    assert current.metadata.annotations["deployment.kubernetes.io/revision"] == "2"
    assert current.metadata.generation == 2 and current.status.observed_generation == 2
    sets = {
        rs.metadata.annotations["deployment.kubernetes.io/revision"]: rs.spec.replicas
        for rs in (await apps.list_namespaced_replica_set(ns)).items
    }
    assert sets == {"1": 0, "2": 2}
    async with asyncio.timeout(5):
        await kube_api.until(lambda: len(kube_api.objects("pods", ns)) == 2)
    assert not {p["metadata"]["name"] for p in kube_api.objects("pods", ns)} & old_pods


async def test_a_crash_looping_template_leaves_the_old_pods_serving_then_rolls_back(
    kube_api: KubeEmulator, apps, core, ns
) -> None:
    kube_api.timings.deadline_scale = 0.02  # 10 s of deadline become 0.2 s
    await apps.create_namespaced_deployment(ns, deployment(progressDeadlineSeconds=10))
    await rolled_out(kube_api, ns)
    old_pods = {p["metadata"]["name"] for p in kube_api.objects("pods", ns)}
    kube_api.behaviour = lambda pod: (
        Crash(exit_code=3, logs=("starting", "boom: missing setting"), delay=0.01)
        if pod["spec"]["containers"][0]["image"] == "app:2"
        else Ready()
    )
    await apps.patch_namespaced_deployment("web", ns, template("app:2"))
    async with asyncio.timeout(5):
        await kube_api.until(
            lambda: progressing(kube_api.get("deployments", ns, "web"))
            == ("False", "ProgressDeadlineExceeded")
        )
    current = await apps.read_namespaced_deployment("web", ns)
    assert (current.status.available_replicas, current.status.updated_replicas) == (2, 1)
    assert current.status.unavailable_replicas == 1
    pods = (await core.list_namespaced_pod(ns)).items
    serving = [p for p in pods if p.metadata.name in old_pods]
    assert len(serving) == 2 and all(is_ready(p) for p in serving)
    [crashing] = [p for p in pods if p.metadata.name not in old_pods]
    container = crashing.status.container_statuses[0]
    assert container.state.waiting.reason == "CrashLoopBackOff"
    assert container.last_state.terminated.exit_code == 3
    assert container.restart_count >= 1
    log = await core.read_namespaced_pod_log(crashing.metadata.name, ns, tail_lines=1)
    assert log == "boom: missing setting\n"

    await apps.patch_namespaced_deployment("web", ns, template("app:1"))  # the rollback
    await rolled_out(kube_api, ns)
    async with asyncio.timeout(5):
        await kube_api.until(lambda: len(kube_api.objects("pods", ns)) == 2)
    assert {p["metadata"]["name"] for p in kube_api.objects("pods", ns)} == old_pods
    sets = {
        rs.spec.template.spec.containers[0].image: (
            rs.metadata.annotations["deployment.kubernetes.io/revision"],
            rs.spec.replicas,
        )
        for rs in (await apps.list_namespaced_replica_set(ns)).items
    }
    assert sets == {"app:1": ("3", 2), "app:2": ("2", 0)}


async def test_old_replica_sets_beyond_the_history_limit_go(
    kube_api: KubeEmulator, apps, ns
) -> None:
    await apps.create_namespaced_deployment(ns, deployment(replicas=1, revisionHistoryLimit=1))
    for image in ("app:2", "app:3"):
        await rolled_out(kube_api, ns)
        await apps.patch_namespaced_deployment("web", ns, template(image))
    await rolled_out(kube_api, ns)
    async with asyncio.timeout(5):
        await kube_api.until(lambda: len(kube_api.objects("replicasets", ns)) == 2)
    images = sorted(
        rs["spec"]["template"]["spec"]["containers"][0]["image"]
        for rs in kube_api.objects("replicasets", ns)
    )
    assert images == ["app:2", "app:3"]


async def test_recreate_empties_the_old_replica_set_first(
    kube_api: KubeEmulator, apps, core, ns, watch_until
) -> None:
    body = deployment()
    body["spec"]["strategy"] = {"type": "Recreate"}
    await apps.create_namespaced_deployment(ns, body)
    await rolled_out(kube_api, ns)
    listed = await core.list_namespaced_pod(ns)
    await apps.patch_namespaced_deployment("web", ns, template("app:2"))
    added: list[str] = []

    def two_added(event: dict[str, Any]) -> bool:
        if event["type"] == "ADDED":
            added.append(event["object"].metadata.name)
        return len(added) == 2

    seen = await watch_until(
        core.list_namespaced_pod,
        ns,
        until=two_added,
        resource_version=listed.metadata.resource_version,
    )
    first_added = next(i for i, e in enumerate(seen) if e["type"] == "ADDED")
    assert [e["type"] for e in seen[:first_added]].count("DELETED") == 2


async def test_scaling(kube_api: KubeEmulator, apps, ns) -> None:
    await apps.create_namespaced_deployment(ns, deployment(replicas=1))
    await rolled_out(kube_api, ns)
    await apps.patch_namespaced_deployment_scale("web", ns, {"spec": {"replicas": 3}})
    async with asyncio.timeout(5):
        await kube_api.until(
            lambda: (kube_api.get("deployments", ns, "web") or {})
            .get("status", {})
            .get("availableReplicas")
            == 3
        )
    await apps.patch_namespaced_deployment("web", ns, {"spec": {"replicas": 0}})
    await rolled_out(kube_api, ns)
    async with asyncio.timeout(5):
        await kube_api.until(lambda: kube_api.objects("pods", ns) == [])
