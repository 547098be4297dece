"""What the cluster holds of ours, kept current by watches: the backend reads here, not the API.

One `Informer` per kind lists every object labelled `heritage=deis` in every namespace, then
watches from the list's resourceVersion; a watch that ends is made again from the last version
seen, and one whose version is too old (410 Gone) lists afresh, reporting what changed
meanwhile. A converge compares what it wants with the cache, so an app that is as it should be
costs no request, and a config change costs requests for that app only.

`Cache.wait` wakes whoever waits for the cluster to move (a rollout, a `deis run`, a
namespace going away); `on_change` hears every change with the namespace (the app) it is in.
"""

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from typing import Final

from deis_scheduler.kubernetes.client import Gone, Kube, KubeError
from deis_scheduler.kubernetes.manifests import Manifest

logger = logging.getLogger(__name__)

SELECTOR: Final = "heritage=deis"
"""The label selector of everything the backend watches."""

WATCHED: Final = (
    "Namespace",
    "Deployment",
    "ReplicaSet",
    "Pod",
    "Service",
    "Secret",
    "HorizontalPodAutoscaler",
    "NetworkPolicy",
)
"""The kinds the backend makes (pods and replica sets carry our labels through templates)."""

RETRY_MAX: Final = 30.0
"""Longest wait before listing again after a failure."""

Key = tuple[str, str]
"""(namespace, name); the namespace is "" for cluster-scoped kinds."""


def key_of(manifest: Manifest) -> Key:
    """The cache key of an object."""
    meta = manifest["metadata"]
    return meta.get("namespace", ""), meta["name"]


class Informer:
    """The objects of one kind with our label, as the API server last said."""

    def __init__(
        self,
        kube: Kube,
        kind: str,
        *,
        selector: str,
        seconds: int,
        on_change: Callable[[str, str], None],
    ) -> None:
        """Watch `kind` with `selector`, each request lasting `seconds`.

        `on_change(kind, namespace)` hears each change.
        """
        self.kind = kind
        self.objects: dict[Key, Manifest] = {}
        self._by_namespace: dict[str, dict[str, Manifest]] = {}
        """The same objects by namespace, so that one app's are found without a scan."""
        self.synced = asyncio.Event()
        """Set once the first list is in."""
        self.lists = 0
        """Lists made (the first, and one per 410 or failure)."""
        self._kube = kube
        self._selector = selector
        self._seconds = seconds
        self._on_change = on_change

    async def run(self) -> None:
        """List, then watch, forever; runs until cancelled."""
        failures = 0
        while True:
            try:
                version = await self._list()
                failures = 0
                while True:
                    version = await self._watch(version)
            except Gone:
                logger.info("the watch of %s expired: listing again", self.kind)
            except KubeError as exc:
                failures += 1
                delay = min(RETRY_MAX, 0.5 * 2 ** min(failures, 8))
                logger.warning("watching %s failed (%s); again in %.1f s", self.kind, exc, delay)
                await asyncio.sleep(delay)

    async def _list(self) -> str:
        listed = await self._kube.list(self.kind, label_selector=self._selector)
        self.lists += 1
        fresh = {key_of(item): _with_kind(item, self.kind) for item in listed.get("items", [])}
        changed = {
            key
            for key in fresh.keys() | self.objects.keys()
            if _version(fresh.get(key)) != _version(self.objects.get(key))
        }
        self.objects = fresh
        self._by_namespace = {}
        for (namespace, name), item in fresh.items():
            self._by_namespace.setdefault(namespace, {})[name] = item
        self.synced.set()
        for namespace, _ in changed:
            self._on_change(self.kind, namespace)
        return str(listed["metadata"]["resourceVersion"])

    async def _watch(self, version: str) -> str:
        async for event, raw in self._kube.watch(
            self.kind,
            label_selector=self._selector,
            resource_version=version,
            seconds=self._seconds,
        ):
            item = _with_kind(raw, self.kind)
            key = key_of(item)
            if event == "DELETED":
                self.objects.pop(key, None)
                self._by_namespace.get(key[0], {}).pop(key[1], None)
            else:
                self.objects[key] = item
                self._by_namespace.setdefault(key[0], {})[key[1]] = item
            version = str(item["metadata"].get("resourceVersion", version))
            self._on_change(self.kind, key[0])
        return version

    def in_namespace(self, namespace: str) -> list[Manifest]:
        """The objects in `namespace`, by name."""
        found = self._by_namespace.get(namespace, {})
        return [found[name] for name in sorted(found)]


class Cache:
    """An informer per watched kind, and a condition that wakes on every change."""

    def __init__(self, kube: Kube, *, seconds: int) -> None:
        """Watch through `kube`, each watch request lasting `seconds`."""
        self._moved = asyncio.Event()
        self.on_change: Callable[[str, str], None] = lambda _kind, _namespace: None
        """Told `(kind, namespace)` of every change (the backend publishes procs with it)."""
        self.informers = {
            kind: Informer(kube, kind, selector=SELECTOR, seconds=seconds, on_change=self._heard)
            for kind in WATCHED
        }
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        """Start every informer."""
        self._tasks = [
            asyncio.create_task(informer.run(), name=f"watch-{kind}")
            for kind, informer in self.informers.items()
        ]

    async def synced(self) -> None:
        """Wait until every informer has listed once."""
        await asyncio.gather(*(informer.synced.wait() for informer in self.informers.values()))

    async def close(self) -> None:
        """Stop every informer."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def get(self, kind: str, name: str, namespace: str = "") -> Manifest | None:
        """The object as last seen, or None."""
        return self.informers[kind].objects.get((namespace, name))

    def all(self, kind: str, namespace: str) -> list[Manifest]:
        """Every object of `kind` in `namespace`."""
        return self.informers[kind].in_namespace(namespace)

    def namespaces(self) -> Iterable[Manifest]:
        """Every namespace of ours."""
        return list(self.informers["Namespace"].objects.values())

    async def wait(self, seconds: float) -> None:
        """Wait for the next change, or `seconds`."""
        moved = self._moved
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await moved.wait()

    def _heard(self, kind: str, namespace: str) -> None:
        self.on_change(kind, namespace)
        self._moved.set()  # wakes every waiter of this change; later ones wait for the next
        self._moved = asyncio.Event()


def _with_kind(item: Manifest, kind: str) -> Manifest:
    # Items of a List carry no kind of their own; watch events do.
    return item if item.get("kind") else {**item, "kind": kind}


def _version(item: Manifest | None) -> str | None:
    return None if item is None else str(item["metadata"].get("resourceVersion"))
