"""The emulator's etcd: objects by kind, namespace and name; one revision; history; watches.

Every write takes the next value of one global revision, which becomes the object's
`metadata.resourceVersion`, and appends an event to the history. Watches start from a
revision: the history after it is replayed, then live events follow. `compact()` forgets the
history so far, as etcd's compaction does, after which a watch from an older revision gets
410 Expired.

Stored objects are never changed in place: a write stores a new dict. So readers may hold
what `get` returns without copying, and events may share objects with the store; whoever
wants to change an object copies it first (`copy.deepcopy`).

All methods are synchronous. The emulator runs on one event loop, so a write, its event and
every listener's reaction to it happen without another request in between.
"""

import asyncio
import collections
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from deis_testing.kube import errors, meta
from deis_testing.kube.kinds import Kind

Labels = Callable[[Mapping[str, str]], bool]
Fields = Callable[[Mapping[str, Any]], bool]


@dataclass(frozen=True)
class Event:
    """One change: `obj` is the object after it (for DELETED, as it was when it went)."""

    revision: int
    type: str
    kind: Kind
    obj: dict[str, Any]
    old: dict[str, Any] | None


class Watch:
    """One open watch: its events queue up here, then `None` when it must end."""

    def __init__(
        self, kind: Kind, namespace: str | None, labels: Labels | None, fields: Fields | None
    ) -> None:
        self.kind = kind
        self.namespace = namespace
        self._labels = labels
        self._fields = fields
        self.queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()

    def matches(self, obj: dict[str, Any] | None) -> bool:
        """Whether `obj` is in this watch's view (its namespace and selectors)."""
        if obj is None:
            return False
        if self.namespace is not None and meta.namespace_of(obj) != self.namespace:
            return False
        if self._labels is not None and not self._labels(meta.labels_of(obj)):
            return False
        return self._fields is None or self._fields(obj)

    def offer(self, event: Event) -> None:
        """Queue `event` as this watch sees it.

        With a selector, an object that starts to match is ADDED and one that stops matching
        is DELETED, as the API server shows a filtered watch.
        """
        if event.kind is not self.kind:
            return
        now = self.matches(event.obj)
        kind: str | None = event.type if now else None
        if event.type == "MODIFIED":
            before = self.matches(event.old)
            kind = ("MODIFIED" if before else "ADDED") if now else ("DELETED" if before else None)
        if kind is not None:
            self.queue.put_nowait({"type": kind, "object": event.obj})

    def end(self) -> None:
        """Make the watch end after the events already queued."""
        self.queue.put_nowait(None)


class Store:
    """Objects, revision, history and watches of one emulated cluster."""

    def __init__(self, *, history_limit: int = 100_000) -> None:
        self.revision = 1
        self.oldest = 1
        """Watches may start from this revision or a later one."""
        self._history_limit = history_limit
        self._objects: dict[Kind, dict[str, dict[str, dict[str, Any]]]] = {}
        self._dependents: dict[str, set[tuple[Kind, str, str]]] = {}
        self._uids: dict[str, tuple[Kind, str, str]] = {}
        self._history: collections.deque[Event] = collections.deque()
        self._watches: set[Watch] = set()
        self._listeners: list[Callable[[Event], None]] = []

    def listen(self, listener: Callable[[Event], None]) -> None:
        """Call `listener` with every event, right after the write."""
        self._listeners.append(listener)

    def get(self, kind: Kind, namespace: str, name: str) -> dict[str, Any] | None:
        """The object, or `None`."""
        return self._objects.get(kind, {}).get(namespace, {}).get(name)

    def select(self, kind: Kind, namespace: str | None = None) -> list[dict[str, Any]]:
        """The objects of `kind` (in `namespace`, or all), by namespace and name."""
        spaces = self._objects.get(kind, {})
        chosen = [namespace] if namespace is not None else sorted(spaces)
        return [spaces[ns][name] for ns in chosen if ns in spaces for name in sorted(spaces[ns])]

    def namespaced(self, namespace: str) -> Iterator[tuple[Kind, dict[str, Any]]]:
        """Every object in `namespace`, of every kind."""
        for kind, spaces in list(self._objects.items()):
            for obj in list(spaces.get(namespace, {}).values()):
                yield kind, obj

    def dependents(self, uid: str) -> list[tuple[Kind, dict[str, Any]]]:
        """The objects whose `ownerReferences` name `uid`."""
        found = []
        for kind, namespace, name in sorted(self._dependents.get(uid, ()), key=str):
            obj = self.get(kind, namespace, name)
            if obj is not None:
                found.append((kind, obj))
        return found

    def by_uid(self, uid: str) -> tuple[Kind, dict[str, Any]] | None:
        """The object with this uid, and its kind, while it exists."""
        where = self._uids.get(uid)
        if where is None:
            return None
        obj = self.get(*where)
        return None if obj is None else (where[0], obj)

    def put(self, kind: Kind, obj: dict[str, Any]) -> dict[str, Any]:
        """Store `obj` (ADDED, or MODIFIED over what was there) at the next revision."""
        namespace, name = meta.namespace_of(obj), meta.name_of(obj)
        old = self.get(kind, namespace, name)
        self.revision += 1
        obj["metadata"]["resourceVersion"] = str(self.revision)
        self._objects.setdefault(kind, {}).setdefault(namespace, {})[name] = obj
        self._index(kind, old, remove=True)
        self._index(kind, obj, remove=False)
        self._emit(Event(self.revision, "ADDED" if old is None else "MODIFIED", kind, obj, old))
        return obj

    def remove(self, kind: Kind, namespace: str, name: str) -> dict[str, Any] | None:
        """Delete the object for good (DELETED); `None` when there was none."""
        old = self.get(kind, namespace, name)
        if old is None:
            return None
        del self._objects[kind][namespace][name]
        self._index(kind, old, remove=True)
        self.revision += 1
        gone = {**old, "metadata": {**old["metadata"], "resourceVersion": str(self.revision)}}
        self._emit(Event(self.revision, "DELETED", kind, gone, old))
        return gone

    def watch(
        self,
        kind: Kind,
        *,
        namespace: str | None,
        since: int | None,
        labels: Labels | None = None,
        fields: Fields | None = None,
    ) -> Watch:
        """Open a watch: from revision `since`, or (None) from synthetic ADDED of what exists.

        Raises:
            ApiError: 410, `since` is older than the history kept.
        """
        watch = Watch(kind, namespace, labels, fields)
        if since is None:
            for obj in self.select(kind, namespace):
                if watch.matches(obj):
                    watch.queue.put_nowait({"type": "ADDED", "object": obj})
        elif since < self.oldest:
            raise errors.expired(since, self.oldest)
        else:
            for event in self._history:
                if event.revision > since:
                    watch.offer(event)
        self._watches.add(watch)
        return watch

    def unwatch(self, watch: Watch) -> None:
        """Forget a watch whose client has gone."""
        self._watches.discard(watch)

    def end_watches(self) -> int:
        """End every open watch (clients see a clean end of stream); how many there were."""
        watches, self._watches = self._watches, set()
        for watch in watches:
            watch.end()
        return len(watches)

    def compact(self) -> None:
        """Forget the history so far: watches from older revisions get 410 Expired."""
        self._history.clear()
        self.oldest = self.revision

    def _emit(self, event: Event) -> None:
        self._history.append(event)
        if len(self._history) > self._history_limit:
            self.oldest = self._history.popleft().revision
        for watch in list(self._watches):
            watch.offer(event)
        for listener in self._listeners:
            listener(event)

    def _index(self, kind: Kind, obj: dict[str, Any] | None, *, remove: bool) -> None:
        if obj is None:
            return
        key = (kind, meta.namespace_of(obj), meta.name_of(obj))
        if remove:
            self._uids.pop(meta.uid_of(obj), None)
        else:
            self._uids[meta.uid_of(obj)] = key
        for reference in obj["metadata"].get("ownerReferences") or []:
            holders = self._dependents.setdefault(reference["uid"], set())
            if remove:
                holders.discard(key)
                if not holders:
                    del self._dependents[reference["uid"]]
            else:
                holders.add(key)
