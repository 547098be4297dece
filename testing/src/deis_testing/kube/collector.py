"""The garbage collector stand-in: dependents follow their owners (`ownerReferences`).

When an owner goes, each dependent that has no other owner left is deleted in the
background (pods of a ReplicaSet of a Deployment go in turn, each by its own rules); one
that has is only unhooked from the owner gone. An owner deleted with `propagationPolicy:
Foreground` waits, marked with the `foregroundDeletion` finalizer, until its dependents are
gone, and then goes.
"""

import copy
from collections.abc import Iterable

from deis_testing.kube import deleting, meta
from deis_testing.kube.apiserver import ApiServer
from deis_testing.kube.controlling import Key
from deis_testing.kube.store import Event

FOREGROUND = "foregroundDeletion"


class Collector:
    """Deletes dependents of owners that went; finishes foreground deletions."""

    name = "collector"

    def __init__(self, api: ApiServer) -> None:
        self._api = api
        self._store = api.store

    def keys(self, event: Event) -> Iterable[Key]:
        """Owners (by uid) that went, that wait in the foreground, or lost a dependent."""
        metadata = event.obj["metadata"]
        if event.type == "DELETED":
            yield "uid", metadata["uid"]
            for reference in metadata.get("ownerReferences") or []:
                yield "uid", reference["uid"]
        elif meta.terminating(event.obj) and FOREGROUND in (metadata.get("finalizers") or []):
            yield "uid", metadata["uid"]

    def reconcile(self, key: Key) -> None:
        """Delete or unhook the dependents of owner `key[1]`, or let a waiting owner go."""
        uid = key[1]
        dependents = self._store.dependents(uid)
        found = self._store.by_uid(uid)
        if found is None:
            for kind, dependent in dependents:
                references = dependent["metadata"]["ownerReferences"]
                if any(r["uid"] != uid and self._store.by_uid(r["uid"]) for r in references):
                    changed = copy.deepcopy(dependent)
                    changed["metadata"]["ownerReferences"] = [
                        r for r in references if r["uid"] != uid
                    ]
                    self._api.commit(kind, changed)
                elif not meta.terminating(dependent):
                    deleting.delete(
                        self._api, kind, meta.namespace_of(dependent), meta.name_of(dependent)
                    )
            return
        kind, owner = found
        finalizers = owner["metadata"].get("finalizers") or []
        if not meta.terminating(owner) or FOREGROUND not in finalizers:
            return
        if dependents:
            for dependent_kind, dependent in dependents:
                if not meta.terminating(dependent):
                    deleting.delete(
                        self._api,
                        dependent_kind,
                        meta.namespace_of(dependent),
                        meta.name_of(dependent),
                        propagation="Foreground",
                    )
            return
        changed = copy.deepcopy(owner)
        changed["metadata"]["finalizers"] = [f for f in finalizers if f != FOREGROUND]
        if not changed["metadata"]["finalizers"]:
            del changed["metadata"]["finalizers"]
        self._api.commit(kind, changed)
