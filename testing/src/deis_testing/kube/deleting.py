"""Deletion as the API server does it, by kind and `propagationPolicy`.

Pods on a node and objects with finalizers are marked (`deletionTimestamp`) and go later
(the kubelet, or whoever owns the finalizer, lets them go); a namespace turns `Terminating`
(the namespace controller empties it); anything else goes at once. Dependents follow their
owner in the background (the `collector`), first (`Foreground`: the owner waits with the
`foregroundDeletion` finalizer) or not at all (`Orphan`: their references are dropped).
The answer is the object while it lingers, else a `Status` of success, as from Kubernetes.
"""

import copy
from typing import Any

from deis_testing.kube import errors, kinds, meta
from deis_testing.kube.apiserver import ApiServer
from deis_testing.kube.kinds import Kind


def delete(
    api: ApiServer,
    kind: Kind,
    namespace: str,
    name: str,
    *,
    propagation: str = "",
    grace: int | None = None,
    preconditions: dict[str, Any] | None = None,
    dry_run: bool = False,
) -> dict[str, Any]:
    """Delete as the module doc says; the object while it lingers, else a Status.

    With `dry_run`, nothing happens after the checks; the answer is the object.
    """
    obj = api.get(kind, namespace, name)
    preconditions = preconditions or {}
    if preconditions.get("uid") not in (None, obj["metadata"]["uid"]):
        raise errors.conflict(kind, name)
    if preconditions.get("resourceVersion") not in (None, obj["metadata"]["resourceVersion"]):
        raise errors.conflict(kind, name)
    if meta.terminating(obj) or dry_run:
        return obj
    marks: dict[str, Any] = {"deletionTimestamp": meta.now()}
    if kind is kinds.NAMESPACES:
        return _mark(
            api, kind, obj, marks, status={**obj.get("status", {}), "phase": "Terminating"}
        )
    if kind is kinds.PODS:
        if grace is None:
            grace = obj["spec"].get("terminationGracePeriodSeconds", 30)
        terminal = obj.get("status", {}).get("phase") in ("Succeeded", "Failed")
        if grace and obj["spec"].get("nodeName") and not terminal:
            return _mark(api, kind, obj, {**marks, "deletionGracePeriodSeconds": grace})
    finalizers = list(obj["metadata"].get("finalizers") or [])
    if propagation == "Foreground" and api.store.dependents(obj["metadata"]["uid"]):
        finalizers.append("foregroundDeletion")
    if finalizers:
        return _mark(api, kind, obj, {**marks, "finalizers": finalizers})
    if propagation == "Orphan":
        orphan(api, obj)
    api.store.remove(kind, namespace, name)
    details: dict[str, Any] = {"name": name, "kind": kind.plural, "uid": obj["metadata"]["uid"]}
    if kind.group:
        details["group"] = kind.group
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": details,
    }


def delete_collection(
    api: ApiServer,
    kind: Kind,
    namespace: str | None,
    *,
    labels: str = "",
    fields: str = "",
    propagation: str = "",
) -> dict[str, Any]:
    """Delete every object the list with these selectors would show; that list."""
    listed = api.list_objects(kind, namespace, labels=labels, fields=fields)
    for item in listed["items"]:
        if (
            api.store.get(kind, item["metadata"].get("namespace", ""), item["metadata"]["name"])
            is not None
        ):
            delete(
                api,
                kind,
                item["metadata"].get("namespace", ""),
                item["metadata"]["name"],
                propagation=propagation,
            )
    return listed


def orphan(api: ApiServer, owner: dict[str, Any]) -> None:
    """Drop the references to `owner` from its dependents (propagation `Orphan`)."""
    uid = owner["metadata"]["uid"]
    for kind, dependent in api.store.dependents(uid):
        changed = copy.deepcopy(dependent)
        changed["metadata"]["ownerReferences"] = [
            r for r in changed["metadata"]["ownerReferences"] if r["uid"] != uid
        ] or None
        if changed["metadata"]["ownerReferences"] is None:
            del changed["metadata"]["ownerReferences"]
        api.store.put(kind, changed)


def _mark(
    api: ApiServer,
    kind: Kind,
    obj: dict[str, Any],
    marks: dict[str, Any],
    status: dict[str, Any] | None = None,
) -> dict[str, Any]:
    marked = copy.deepcopy(obj)
    marked["metadata"].update(marks)
    if status is not None:
        marked["status"] = status
    return api.store.put(kind, marked)
