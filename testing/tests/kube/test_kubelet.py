"""The scheduler and kubelet stand-in: placement, the behaviours tests choose, logs."""

import asyncio
import json
from typing import Any

import pytest
from kubernetes_asyncio import client

from deis_testing.kube import (
    Exit,
    ImagePullFailure,
    KubeEmulator,
    NeverReady,
    OOMKilled,
    Ready,
)


def pod(name: str = "p", image: str = "app:1", **spec: object) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "labels": {"run": name}},
        "spec": {"containers": [{"name": "main", "image": image}], **spec},
    }


def condition(obj: dict[str, Any] | None, kind: str) -> dict[str, Any]:
    for found in (obj or {}).get("status", {}).get("conditions") or []:
        if found["type"] == kind:
            return dict(found)
    return {}


async def until_pod(kube_api: KubeEmulator, ns: str, name: str, check) -> dict[str, Any]:
    async with asyncio.timeout(5):
        await kube_api.until(lambda: check(kube_api.get("pods", ns, name) or {}))
    found = kube_api.get("pods", ns, name)
    assert found is not None
    return found


def phase(obj: dict[str, Any]) -> str:
    return str(obj.get("status", {}).get("phase", ""))


def container(obj: dict[str, Any]) -> dict[str, Any]:
    statuses = obj.get("status", {}).get("containerStatuses") or [{}]
    return dict(statuses[0])


async def test_a_pod_goes_pending_running_ready(
    kube_api: KubeEmulator, core, ns, watch_until
) -> None:
    listed = await core.list_namespaced_pod(ns)
    await core.create_namespaced_pod(ns, pod())
    seen = await watch_until(
        core.list_namespaced_pod,
        ns,
        resource_version=listed.metadata.resource_version,
        until=lambda e: condition(e["raw_object"], "Ready").get("status") == "True",
    )
    phases = [e["object"].status.phase for e in seen]
    assert phases[0] == "Pending" and phases[-1] == "Running"
    waiting = [e for e in seen if e["object"].status.container_statuses]
    assert waiting[0]["object"].status.container_statuses[0].state.waiting.reason == (
        "ContainerCreating"
    )
    final = seen[-1]["object"]
    assert final.spec.node_name == "node-1" and final.status.host_ip and final.status.pod_ip
    assert final.status.container_statuses[0].ready
    assert final.status.container_statuses[0].state.running.started_at is not None


async def test_a_pod_no_node_fits_stays_pending_until_one_does(
    kube_api: KubeEmulator, core, ns
) -> None:
    kube_api.set_nodes({"a": {"zone": "a"}, "b": {"zone": "b"}})
    nodes = await core.list_node(label_selector="zone")
    assert [n.metadata.name for n in nodes.items] == ["a", "b"]
    await core.create_namespaced_pod(ns, pod(nodeSelector={"zone": "c"}))
    found = await until_pod(kube_api, ns, "p", lambda p: condition(p, "PodScheduled"))
    scheduled = condition(found, "PodScheduled")
    assert (scheduled["status"], scheduled["reason"]) == ("False", "Unschedulable")
    assert "0/2 nodes are available" in scheduled["message"]
    assert phase(found) == "Pending" and not found["spec"].get("nodeName")
    kube_api.set_nodes({"a": {"zone": "a"}, "c": {"zone": "c"}})
    found = await until_pod(kube_api, ns, "p", lambda p: phase(p) == "Running")
    assert found["spec"]["nodeName"] == "c"
    assert condition(found, "PodScheduled")["status"] == "True"


async def test_pods_spread_over_the_fitting_nodes(kube_api: KubeEmulator, core, ns) -> None:
    kube_api.set_nodes({"a": {"pool": "x"}, "b": {"pool": "x"}, "c": {}})
    for name in ("p1", "p2", "p3", "p4"):
        await core.create_namespaced_pod(ns, pod(name, nodeSelector={"pool": "x"}))
    async with asyncio.timeout(5):
        await kube_api.until(
            lambda: all(p["spec"].get("nodeName") for p in kube_api.objects("pods", ns))
        )
    nodes = sorted(p["spec"]["nodeName"] for p in kube_api.objects("pods", ns))
    assert nodes == ["a", "a", "b", "b"]


async def test_a_run_to_completion_pod_succeeds_with_its_logs(
    kube_api: KubeEmulator, core, ns
) -> None:
    kube_api.behaviour = lambda p: Exit(0, logs=("hello", "world"), delay=0.02)
    await core.create_namespaced_pod(ns, pod(restartPolicy="Never"))
    found = await until_pod(kube_api, ns, "p", lambda p: phase(p) == "Succeeded")
    terminated = container(found)["state"]["terminated"]
    assert (terminated["exitCode"], terminated["reason"]) == (0, "Completed")
    assert condition(found, "Ready")["reason"] == "PodCompleted"
    assert await core.read_namespaced_pod_log("p", ns) == "hello\nworld\n"
    assert await core.read_namespaced_pod_log("p", ns, container="main", tail_lines=1) == "world\n"
    assert await core.read_namespaced_pod_log("p", ns, tail_lines=0) == ""


async def test_a_run_to_completion_pod_fails_with_its_exit_code(
    kube_api: KubeEmulator, core, ns
) -> None:
    kube_api.behaviour = lambda p: Exit(2, logs=("no such command",), delay=0.02)
    await core.create_namespaced_pod(ns, pod(restartPolicy="Never"))
    found = await until_pod(kube_api, ns, "p", lambda p: phase(p) == "Failed")
    assert container(found)["state"]["terminated"]["exitCode"] == 2
    assert container(found)["restartCount"] == 0
    assert await core.read_namespaced_pod_log("p", ns) == "no such command\n"


async def test_a_pod_that_never_finishes_runs_until_deleted(
    kube_api: KubeEmulator, core, ns, watch_until
) -> None:
    kube_api.behaviour = lambda p: Ready(delay=0, logs=("working",))
    await core.create_namespaced_pod(ns, pod(restartPolicy="Never"))
    await until_pod(kube_api, ns, "p", lambda p: phase(p) == "Running")
    await asyncio.sleep(0.1)
    assert phase(kube_api.get("pods", ns, "p") or {}) == "Running"
    listed = await core.list_namespaced_pod(ns)
    await core.delete_namespaced_pod("p", ns)
    terminating = await core.read_namespaced_pod("p", ns)
    assert terminating.metadata.deletion_timestamp is not None
    assert terminating.metadata.deletion_grace_period_seconds == 30
    seen = await watch_until(
        core.list_namespaced_pod,
        ns,
        resource_version=listed.metadata.resource_version,
        until=lambda e: e["type"] == "DELETED",
    )
    assert [e["type"] for e in seen] == ["MODIFIED", "DELETED"]


async def test_a_crash_loop(kube_api: KubeEmulator, core, ns) -> None:
    kube_api.behaviour = lambda p: Exit(1, logs=("Traceback", "KeyError: 'PORT'"), delay=0.01)
    await core.create_namespaced_pod(ns, pod())
    found = await until_pod(kube_api, ns, "p", lambda p: container(p).get("restartCount", 0) >= 2)
    status = container(found)
    assert phase(found) == "Running" and not status["ready"]
    assert status["lastState"]["terminated"]["exitCode"] == 1
    assert status["lastState"]["terminated"]["reason"] == "Error"
    found = await until_pod(kube_api, ns, "p", lambda p: "waiting" in container(p)["state"])
    assert container(found)["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert await core.read_namespaced_pod_log("p", ns, tail_lines=1) == "KeyError: 'PORT'\n"
    previous = await core.read_namespaced_pod_log("p", ns, previous=True)
    assert previous == "Traceback\nKeyError: 'PORT'\n"


async def test_oom_killed(kube_api: KubeEmulator, core, ns) -> None:
    kube_api.behaviour = lambda p: OOMKilled(delay=0.01)
    await core.create_namespaced_pod(ns, pod())
    found = await until_pod(kube_api, ns, "p", lambda p: container(p).get("lastState"))
    terminated = container(found)["lastState"]["terminated"]
    assert (terminated["reason"], terminated["exitCode"]) == ("OOMKilled", 137)


async def test_an_image_that_cannot_be_pulled(kube_api: KubeEmulator, core, ns) -> None:
    kube_api.behaviour = lambda p: (
        ImagePullFailure(message="manifest unknown")
        if p["spec"]["containers"][0]["image"] == "missing:1"
        else Ready()
    )
    await core.create_namespaced_pod(ns, pod(image="missing:1"))

    def reason(p: dict[str, Any]) -> str:
        return str(container(p).get("state", {}).get("waiting", {}).get("reason", ""))

    found = await until_pod(kube_api, ns, "p", lambda p: reason(p) == "ErrImagePull")
    assert container(found)["state"]["waiting"]["message"] == "manifest unknown"
    found = await until_pod(kube_api, ns, "p", lambda p: reason(p) == "ImagePullBackOff")
    assert container(found)["state"]["waiting"]["message"] == 'Back-off pulling image "missing:1"'
    assert phase(found) == "Pending"
    with pytest.raises(client.ApiException) as caught:
        await core.read_namespaced_pod_log("p", ns)
    assert caught.value.status == 400
    assert (
        "is waiting to start: ImagePullBackOff" in json.loads(caught.value.body or b"{}")["message"]
    )


async def test_never_ready(kube_api: KubeEmulator, core, ns) -> None:
    kube_api.behaviour = lambda p: NeverReady()
    await core.create_namespaced_pod(ns, pod())
    found = await until_pod(kube_api, ns, "p", lambda p: phase(p) == "Running")
    await asyncio.sleep(0.1)
    found = kube_api.get("pods", ns, "p") or {}
    assert condition(found, "Ready")["status"] == "False"
    assert condition(found, "Ready")["reason"] == "ContainersNotReady"


async def test_the_behaviour_is_chosen_from_the_pod(kube_api: KubeEmulator, core, ns) -> None:
    chosen: list[dict[str, Any]] = []

    def choose(p: dict[str, Any]) -> Ready:
        chosen.append(p)
        return Ready()

    kube_api.behaviour = choose
    body = pod()
    body["spec"]["containers"][0]["env"] = [{"name": "MODE", "value": "x"}]
    await core.create_namespaced_pod(ns, body)
    await until_pod(kube_api, ns, "p", lambda p: phase(p) == "Running")
    assert len(chosen) == 1
    assert chosen[0]["spec"]["containers"][0]["env"] == [{"name": "MODE", "value": "x"}]
    assert chosen[0]["metadata"]["labels"] == {"run": "p"}


async def test_logs_of_pods_with_several_containers(kube_api: KubeEmulator, core, ns) -> None:
    kube_api.behaviour = lambda p: Ready(logs=("same",))
    body = pod()
    body["spec"]["containers"].append({"name": "side", "image": "side:1"})
    await core.create_namespaced_pod(ns, body)
    await until_pod(kube_api, ns, "p", lambda p: phase(p) == "Running")
    assert await core.read_namespaced_pod_log("p", ns, container="side") == "same\n"
    for kwargs, text in (
        ({}, "a container name must be specified"),
        ({"container": "nope"}, "container nope is not valid"),
        ({"container": "main", "previous": True}, "previous terminated"),
    ):
        with pytest.raises(client.ApiException) as caught:
            await core.read_namespaced_pod_log("p", ns, **kwargs)
        assert (
            caught.value.status == 400 and text in json.loads(caught.value.body or b"{}")["message"]
        )
