"""The Deployment controller stand-in: ReplicaSets per template, rolling updates, status.

Each pod template gets a ReplicaSet `<deployment>-<hash>` (label `pod-template-hash`,
annotation `deployment.kubernetes.io/revision`); re-applying an old template (a rollback)
makes its ReplicaSet the new one again, under the next revision. Scaling follows
Kubernetes' rolling update: the new ReplicaSet grows while all pods stay within
`replicas + maxSurge`, old ones shrink while available pods stay at least
`replicas - maxUnavailable`, unhealthy old pods first. So with `maxUnavailable: 0` an old
pod goes only once a new one is available, and a new template that never gets ready leaves
the old pods serving. `Recreate` empties the old ReplicaSets before the new one grows.
Old ReplicaSets beyond `revisionHistoryLimit` are deleted; `paused` stops scaling.

The status carries the counts and the `Available` and `Progressing` conditions; a rollout
without progress for `progressDeadlineSeconds` (times `Timings.deadline_scale`) is marked
`ProgressDeadlineExceeded`. Proportional scaling of a resized Deployment mid-rollout is not
modelled: the new ReplicaSet takes the change.
"""

import asyncio
import copy
import hashlib
import json
import math
from collections.abc import Iterable
from typing import Any

from deis_testing.kube import deleting, kinds, meta
from deis_testing.kube.apiserver import ApiServer
from deis_testing.kube.controlling import Key, Manager
from deis_testing.kube.store import Event
from deis_testing.kube.timings import Timings

Obj = dict[str, Any]
HASH_LABEL = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"


class DeploymentController:
    """Rolls each Deployment's ReplicaSets and writes its status."""

    name = "deployments"

    def __init__(self, api: ApiServer, manager: Manager, *, timings: Timings) -> None:
        self._api = api
        self._store = api.store
        self._manager = manager
        self._timings = timings
        self._progress: dict[str, float] = {}
        """When each rollout (by Deployment uid) last made progress, on the loop's clock.

        The conditions' times have whole seconds; scaled deadlines need finer ones."""
        self._deadlines: dict[str, asyncio.TimerHandle] = {}

    def keys(self, event: Event) -> Iterable[Key]:
        """A Deployment on its own events and on those of its ReplicaSets."""
        if event.kind is kinds.DEPLOYMENTS:
            if event.type == "DELETED":
                self._manager.cancel(self._deadlines.pop(meta.uid_of(event.obj), None))
                self._progress.pop(meta.uid_of(event.obj), None)
            yield meta.namespace_of(event.obj), meta.name_of(event.obj)
        elif event.kind is kinds.REPLICA_SETS:
            owner = meta.controller_of(event.obj)
            if owner is not None and owner["kind"] == "Deployment":
                yield meta.namespace_of(event.obj), owner["name"]
        elif event.kind is kinds.PODS and event.type == "DELETED":
            # Recreate waits for the old pods to be gone, not just asked to go.
            owner = meta.controller_of(event.obj)
            found = self._store.by_uid(owner["uid"]) if owner is not None else None
            if found is not None:
                yield from self.keys(Event(event.revision, "MODIFIED", found[0], found[1], None))

    def reconcile(self, key: Key) -> None:
        """Find or make the new ReplicaSet, scale, prune history, write the status."""
        deployment = self._store.get(kinds.DEPLOYMENTS, *key)
        if deployment is None or meta.terminating(deployment):
            return
        uid = meta.uid_of(deployment)
        owned = [
            rs
            for kind, rs in self._store.dependents(uid)
            if kind is kinds.REPLICA_SETS and (meta.controller_of(rs) or {}).get("uid") == uid
        ]
        new = next((rs for rs in owned if _same_template(rs, deployment)), None)
        old = sorted((rs for rs in owned if rs is not new), key=_revision)
        top = max((_revision(rs) for rs in old), default=0)
        started = ""
        if new is None:
            new, started = self._create(deployment, top + 1, old), "created"
        elif _revision(new) <= top:
            changed = copy.deepcopy(new)
            changed["metadata"]["annotations"][REVISION] = str(top + 1)
            new, started = self._api.commit(kinds.REPLICA_SETS, changed), "found"
        if not deployment["spec"].get("paused"):
            if deployment["spec"]["strategy"].get("type") == "Recreate":
                new = self._recreate(deployment, new, old)
            else:
                new = self._roll(deployment, new, old)
        self._prune(deployment, old)
        self._write_status(deployment, new, started=started)

    # Scaling

    def _create(self, deployment: Obj, revision: int, old: list[Obj]) -> Obj:
        template = copy.deepcopy(deployment["spec"]["template"])
        digest = hashlib.sha256(json.dumps(template, sort_keys=True).encode()).digest()
        hashed = meta.encode(int.from_bytes(digest[:8], "big"))
        template.setdefault("metadata", {}).setdefault("labels", {})[HASH_LABEL] = hashed
        selector = copy.deepcopy(deployment["spec"]["selector"])
        selector.setdefault("matchLabels", {})[HASH_LABEL] = hashed
        desired = deployment["spec"]["replicas"]
        strategy = deployment["spec"]["strategy"]
        if strategy.get("type") == "Recreate" or not any(_replicas(rs) for rs in old):
            replicas = 0 if any(_replicas(rs) for rs in old) else desired
        else:
            surge, _ = _limits(deployment)
            replicas = max(0, min(desired, desired + surge - sum(_replicas(rs) for rs in old)))
        rs: Obj = {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": f"{meta.name_of(deployment)}-{hashed}",
                "labels": template["metadata"]["labels"],
                "annotations": {REVISION: str(revision)},
                "ownerReferences": [meta.owner_reference(deployment)],
            },
            "spec": {"replicas": replicas, "selector": selector, "template": template},
        }
        if deployment["spec"].get("minReadySeconds"):
            rs["spec"]["minReadySeconds"] = deployment["spec"]["minReadySeconds"]
        return self._api.create(kinds.REPLICA_SETS, meta.namespace_of(deployment), rs, check=False)

    def _roll(self, deployment: Obj, new: Obj, old: list[Obj]) -> Obj:
        desired = deployment["spec"]["replicas"]
        surge, unavailable = _limits(deployment)
        everything = [new, *old]
        if _replicas(new) > desired:
            new = self._scale(new, desired)
        elif _replicas(new) < desired:
            room = desired + surge - sum(_replicas(rs) for rs in everything)
            if room > 0:
                new = self._scale(new, min(_replicas(new) + room, desired))
        if not any(_replicas(rs) for rs in old):
            return new
        minimum = desired - unavailable
        new_unavailable = _replicas(new) - _status(new, "availableReplicas")
        budget = sum(_replicas(rs) for rs in [new, *old]) - minimum - new_unavailable
        if budget <= 0:
            return new
        for index, rs in enumerate(old):  # oldest first: unhealthy pods go first
            unhealthy = _replicas(rs) - _status(rs, "availableReplicas")
            if budget > 0 and unhealthy > 0:
                down = min(budget, unhealthy)
                old[index] = self._scale(rs, _replicas(rs) - down)
                budget -= down
        available = sum(_status(rs, "availableReplicas") for rs in [new, *old])
        surplus = available - minimum
        for index, rs in enumerate(old):
            if surplus > 0 and _replicas(rs) > 0:
                down = min(surplus, _replicas(rs))
                old[index] = self._scale(rs, _replicas(rs) - down)
                surplus -= down
        return new

    def _recreate(self, deployment: Obj, new: Obj, old: list[Obj]) -> Obj:
        for index, rs in enumerate(old):
            old[index] = self._scale(rs, 0)
        if any(self._store.dependents(meta.uid_of(rs)) for rs in old):
            return new
        return self._scale(new, deployment["spec"]["replicas"])

    def _scale(self, rs: Obj, replicas: int) -> Obj:
        if _replicas(rs) == replicas:
            return rs
        changed = copy.deepcopy(rs)
        changed["spec"]["replicas"] = replicas
        return self._api.commit(kinds.REPLICA_SETS, changed)

    def _prune(self, deployment: Obj, old: list[Obj]) -> None:
        limit = deployment["spec"].get("revisionHistoryLimit", 10)
        idle = [rs for rs in old if not _replicas(rs) and not _status(rs, "replicas")]
        for rs in idle[: max(0, len(idle) - limit)]:
            deleting.delete(self._api, kinds.REPLICA_SETS, meta.namespace_of(rs), meta.name_of(rs))

    # Status

    def _write_status(self, deployment: Obj, new: Obj, *, started: str) -> None:
        uid = meta.uid_of(deployment)
        owned = [
            rs
            for kind, rs in self._store.dependents(uid)
            if kind is kinds.REPLICA_SETS and (meta.controller_of(rs) or {}).get("uid") == uid
        ]
        desired = deployment["spec"]["replicas"]
        _, unavailable = _limits(deployment)
        counts = {
            "replicas": sum(_status(rs, "replicas") for rs in owned),
            "updatedReplicas": _status(new, "replicas"),
            "readyReplicas": sum(_status(rs, "readyReplicas") for rs in owned),
            "availableReplicas": sum(_status(rs, "availableReplicas") for rs in owned),
        }
        counts["unavailableReplicas"] = max(
            0, sum(_replicas(rs) for rs in owned) - counts["availableReplicas"]
        )
        before = deployment.get("status", {})
        status: Obj = {"observedGeneration": deployment["metadata"]["generation"]}
        status.update({k: v for k, v in counts.items() if v})
        status["conditions"] = copy.deepcopy(before.get("conditions", []))
        if counts["availableReplicas"] >= desired - unavailable:
            meta.set_condition(
                status,
                "Available",
                "True",
                reason="MinimumReplicasAvailable",
                message="Deployment has minimum availability.",
            )
        else:
            meta.set_condition(
                status,
                "Available",
                "False",
                reason="MinimumReplicasUnavailable",
                message="Deployment does not have minimum availability.",
            )
        self._progressing(deployment, new, status, before, started=started)
        changed = copy.deepcopy(deployment)
        changed["status"] = status
        changed["metadata"].setdefault("annotations", {})[REVISION] = str(_revision(new))
        self._api.commit(kinds.DEPLOYMENTS, changed)

    def _progressing(
        self, deployment: Obj, new: Obj, status: Obj, before: Obj, *, started: str
    ) -> None:
        """Set `Progressing`, and time the rollout out after its deadline without progress."""
        uid, name = meta.uid_of(deployment), meta.name_of(new)
        desired = deployment["spec"]["replicas"]
        now = asyncio.get_running_loop().time()
        complete = all(
            status.get(k, 0) == desired
            for k in ("updatedReplicas", "replicas", "availableReplicas")
        )
        progressed = any(
            status.get(k, 0) > before.get(k, 0)
            for k in ("updatedReplicas", "readyReplicas", "availableReplicas")
        ) or (
            status.get("replicas", 0) - status.get("updatedReplicas", 0)
            < before.get("replicas", 0) - before.get("updatedReplicas", 0)
        )
        self._manager.cancel(self._deadlines.pop(uid, None))
        current = meta.condition({"status": status}, "Progressing")
        if started == "created":
            self._progress[uid] = now
            meta.set_condition(
                status,
                "Progressing",
                "True",
                reason="NewReplicaSetCreated",
                message=f'Created new replica set "{name}"',
            )
        elif started == "found" or (not complete and (progressed or current is None)):
            self._progress[uid] = now
            meta.set_condition(
                status,
                "Progressing",
                "True",
                reason="ReplicaSetUpdated",
                message=f'ReplicaSet "{name}" is progressing.',
                progressed=True,
            )
        elif complete:
            meta.set_condition(
                status,
                "Progressing",
                "True",
                reason="NewReplicaSetAvailable",
                message=f'ReplicaSet "{name}" has successfully progressed.',
            )
            return
        elif current is not None and current.get("reason") in (
            "NewReplicaSetAvailable",
            "ProgressDeadlineExceeded",
        ):
            return
        deadline = deployment["spec"]["progressDeadlineSeconds"] * self._timings.deadline_scale
        left = self._progress.setdefault(uid, now) + deadline - now
        if left <= 0:
            meta.set_condition(
                status,
                "Progressing",
                "False",
                reason="ProgressDeadlineExceeded",
                message=f'ReplicaSet "{name}" has timed out progressing.',
            )
        else:
            key = (meta.namespace_of(deployment), meta.name_of(deployment))
            self._deadlines[uid] = self._manager.later(left + 0.001, self.name, key)


def _limits(deployment: Obj) -> tuple[int, int]:
    """The rollout's maxSurge and maxUnavailable as pod counts (never both 0)."""
    desired = deployment["spec"]["replicas"]
    rolling = deployment["spec"]["strategy"].get("rollingUpdate") or {}
    surge = _count(rolling.get("maxSurge", "25%"), desired, up=True)
    unavailable = _count(rolling.get("maxUnavailable", "25%"), desired, up=False)
    return (surge, 1 if surge == 0 and unavailable == 0 else unavailable)


def _count(value: int | str, total: int, *, up: bool) -> int:
    if isinstance(value, int):
        return value
    share = float(value.rstrip("%")) * total / 100
    return math.ceil(share) if up else math.floor(share)


def _same_template(rs: Obj, deployment: Obj) -> bool:
    template = copy.deepcopy(rs["spec"]["template"])
    template.get("metadata", {}).get("labels", {}).pop(HASH_LABEL, None)
    return bool(template == deployment["spec"]["template"])


def _revision(rs: Obj) -> int:
    return int((rs["metadata"].get("annotations") or {}).get(REVISION, 0))


def _replicas(rs: Obj) -> int:
    replicas: int = rs["spec"].get("replicas", 1)
    return replicas


def _status(rs: Obj, field: str) -> int:
    count: int = rs.get("status", {}).get(field, 0)
    return count
