"""The namespace controller stand-in: a `default` ServiceAccount per namespace; termination.

A deleted namespace is `Terminating` at once (the API server marks it); a moment later
(`Timings.namespace_termination`) everything in it is deleted, each object by its own rules
(pods linger for their termination), and when nothing is left the namespace goes. A client
that waits for the namespace to go sees it go.
"""

import contextlib
from collections.abc import Iterable

from deis_testing.kube import deleting, errors, kinds, meta
from deis_testing.kube.apiserver import ApiServer
from deis_testing.kube.controlling import Key, Manager
from deis_testing.kube.store import Event
from deis_testing.kube.timings import Timings


class NamespaceController:
    """Fills new namespaces and empties terminating ones."""

    name = "namespaces"

    def __init__(self, api: ApiServer, manager: Manager, *, timings: Timings) -> None:
        self._api = api
        self._store = api.store
        self._manager = manager
        self._timings = timings
        self._emptying: set[str] = set()
        """Namespaces (by uid) whose contents have been deleted."""

    def keys(self, event: Event) -> Iterable[Key]:
        """A namespace on its own events; a terminating one when something in it goes."""
        if event.kind is kinds.NAMESPACES:
            if event.type == "ADDED":
                yield "new", meta.name_of(event.obj)
            elif event.type == "MODIFIED" and meta.terminating(event.obj):
                yield "terminating", meta.name_of(event.obj)
            elif event.type == "DELETED":
                self._emptying.discard(meta.uid_of(event.obj))
        elif event.type == "DELETED" and event.kind.namespaced:
            yield "terminating", meta.namespace_of(event.obj)

    def reconcile(self, key: Key) -> None:
        """Add the default ServiceAccount, or empty and remove a terminating namespace."""
        what, name = key
        namespace = self._store.get(kinds.NAMESPACES, "", name)
        if namespace is None:
            return
        if what == "new":
            if self._store.get(kinds.SERVICE_ACCOUNTS, name, "default") is None:
                account = {"metadata": {"name": "default"}}
                self._api.create(kinds.SERVICE_ACCOUNTS, name, account, check=False)
            return
        if not meta.terminating(namespace):
            return
        uid = meta.uid_of(namespace)
        if uid not in self._emptying:
            self._emptying.add(uid)
            self._manager.call_later(
                self._timings.namespace_termination, lambda: self._empty(name, uid)
            )
            return
        if next(self._store.namespaced(name), None) is None:
            self._store.remove(kinds.NAMESPACES, "", name)

    def _empty(self, name: str, uid: str) -> None:
        namespace = self._store.get(kinds.NAMESPACES, "", name)
        if namespace is None or meta.uid_of(namespace) != uid:
            return
        for kind, obj in list(self._store.namespaced(name)):
            if not meta.terminating(obj):
                with contextlib.suppress(errors.ApiError):  # gone meanwhile, with its owner
                    deleting.delete(self._api, kind, name, meta.name_of(obj))
        self.reconcile(("terminating", name))
