"""The ReplicaSet controller stand-in: as many pods as `spec.replicas`, and the status.

Pods are made from the template, named `<replicaset>-<random5>`, with an owner reference to
the ReplicaSet. Surplus pods go in the order Kubernetes picks them: unscheduled, pending,
not ready, most restarted, most recently changed first. Pods that finished or are
terminating do not count. Orphaned pods matching the selector are not adopted, and
`minReadySeconds` is not waited for (a ready pod is available at once).
"""

import copy
from collections.abc import Iterable
from typing import Any

from deis_testing.kube import deleting, kinds, meta
from deis_testing.kube.apiserver import ApiServer
from deis_testing.kube.controlling import Key
from deis_testing.kube.store import Event

_PHASES = {"Pending": 0, "Unknown": 1, "Running": 2}


class ReplicaSetController:
    """Keeps each ReplicaSet's pods and status."""

    name = "replicasets"

    def __init__(self, api: ApiServer) -> None:
        self._api = api
        self._store = api.store

    def keys(self, event: Event) -> Iterable[Key]:
        """A ReplicaSet on its own events and on those of the pods it controls."""
        if event.kind is kinds.REPLICA_SETS:
            yield meta.namespace_of(event.obj), meta.name_of(event.obj)
        elif event.kind is kinds.PODS:
            owner = meta.controller_of(event.obj)
            if owner is not None and owner["kind"] == "ReplicaSet":
                yield meta.namespace_of(event.obj), owner["name"]

    def reconcile(self, key: Key) -> None:
        """Create or delete pods towards `spec.replicas`, then write the status."""
        rs = self._store.get(kinds.REPLICA_SETS, *key)
        if rs is None or meta.terminating(rs):
            return
        namespace = key[0]
        active = self._active(rs)
        missing = rs["spec"].get("replicas", 1) - len(active)
        for _ in range(missing):
            self._api.create(kinds.PODS, namespace, _pod(rs), check=False)
        if missing < 0:
            for pod in sorted(active, key=_deletion_rank)[:-missing]:
                deleting.delete(self._api, kinds.PODS, namespace, meta.name_of(pod))
        active = self._active(rs)
        ready = [p for p in active if _ready(p)]
        status: dict[str, Any] = {
            "replicas": len(active),
            "fullyLabeledReplicas": len(active),
            "readyReplicas": len(ready),
            "availableReplicas": len(ready),
            "observedGeneration": rs["metadata"].get("generation", 1),
        }
        changed = copy.deepcopy(rs)
        changed["status"] = {k: v for k, v in status.items() if v or k == "replicas"}
        self._api.commit(kinds.REPLICA_SETS, changed)

    def _active(self, rs: dict[str, Any]) -> list[dict[str, Any]]:
        uid = meta.uid_of(rs)
        return [
            pod
            for kind, pod in self._store.dependents(uid)
            if kind is kinds.PODS
            and (meta.controller_of(pod) or {}).get("uid") == uid
            and not meta.terminating(pod)
            and pod.get("status", {}).get("phase") not in ("Succeeded", "Failed")
        ]


def _pod(rs: dict[str, Any]) -> dict[str, Any]:
    template = copy.deepcopy(rs["spec"]["template"])
    metadata = template.get("metadata", {})
    name = meta.name_of(rs)
    pod_meta: dict[str, Any] = {
        "name": f"{name}-{meta.suffix()}",
        "generateName": f"{name}-",
        "labels": metadata.get("labels", {}),
        "ownerReferences": [meta.owner_reference(rs)],
    }
    if metadata.get("annotations"):
        pod_meta["annotations"] = metadata["annotations"]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": pod_meta, "spec": template["spec"]}


def _ready(pod: dict[str, Any]) -> bool:
    ready = meta.condition(pod, "Ready")
    return ready is not None and ready.get("status") == "True"


def _deletion_rank(pod: dict[str, Any]) -> tuple[bool, int, bool, int, int]:
    restarts = sum(c.get("restartCount", 0) for c in pod["status"].get("containerStatuses", []))
    return (
        bool(pod["spec"].get("nodeName")),
        _PHASES.get(pod["status"].get("phase", "Pending"), 0),
        _ready(pod),
        -restarts,
        -int(pod["metadata"]["resourceVersion"]),
    )
