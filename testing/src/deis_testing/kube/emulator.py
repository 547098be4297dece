"""`KubeEmulator`: the API server, its HTTP endpoint and the controller stand-ins, together.

Started on the caller's event loop (`await start()` or `async with`), it listens on a free
port of 127.0.0.1; `url` is its address, `configuration()` a kubernetes-asyncio client
configuration for it, `write_kubeconfig()` a kubeconfig file. What tests steer:

- `behaviour`: a callable `pod dict -> Behaviour` choosing what each pod does (`behaviours`);
- `set_nodes({...})`: the nodes and their labels (one node, `node-1`, by default);
- `timings`: how fast pods start, restart and go, and how deadlines scale;
- `compact()`: forget the watch history (watches from before get 410 Expired);
- `end_watches()`: end every open watch, as an API server restart would;
- `get`/`objects`/`until`: read the cluster's state directly, wait for a condition on it.

What it reports: `invalid` (objects refused as invalid: a client must never send one),
`failures` (its own errors) and `requests` (method and path of every request, for counting).
"""

import asyncio
import copy
import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from deis_testing.kube import kinds, meta, validation
from deis_testing.kube.apiserver import ApiServer, Invalid
from deis_testing.kube.behaviours import Behaviour, Ready
from deis_testing.kube.collector import Collector
from deis_testing.kube.controlling import Manager
from deis_testing.kube.deployments import DeploymentController
from deis_testing.kube.kubelet import Kubelet
from deis_testing.kube.namespaces import NamespaceController
from deis_testing.kube.replicasets import ReplicaSetController
from deis_testing.kube.serving import Handler
from deis_testing.kube.store import Event, Store
from deis_testing.kube.timings import Timings

if TYPE_CHECKING:
    from kubernetes_asyncio.client import Configuration

DEFAULT_NODES: Mapping[str, Mapping[str, str]] = {"node-1": {}}


class KubeEmulator:
    """An emulated Kubernetes cluster behind a real HTTP API on 127.0.0.1."""

    def __init__(
        self,
        *,
        nodes: Mapping[str, Mapping[str, str]] = DEFAULT_NODES,
        versions: tuple[str, ...] = validation.VERSIONS,
        timings: Timings | None = None,
        history_limit: int = 100_000,
    ) -> None:
        self.timings = timings or Timings()
        self.behaviour: Callable[[dict[str, Any]], Behaviour] = lambda _pod: Ready()
        self.invalid: list[Invalid] = []
        self.failures: list[str] = []
        self.requests: list[tuple[str, str]] = []
        self.store = Store(history_limit=history_limit)
        self.api = ApiServer(self.store, versions=versions, on_invalid=self.invalid.append)
        self._manager = Manager(self.store, on_failure=self.failures.append)
        self._kubelet = Kubelet(
            self.api, self._manager, timings=self.timings, behaviour=lambda: self.behaviour
        )
        for controller in (
            NamespaceController(self.api, self._manager, timings=self.timings),
            Collector(self.api),
            DeploymentController(self.api, self._manager, timings=self.timings),
            ReplicaSetController(self.api),
            self._kubelet,
        ):
            self._manager.add(controller)
        self._waiters: set[asyncio.Event] = set()
        self.store.listen(self._wake_waiters)
        self._runner: web.ServerRunner | None = None
        self._port = 0
        for name in ("default", "kube-system", "kube-public", "kube-node-lease"):
            self.api.create(kinds.NAMESPACES, "", {"metadata": {"name": name}}, check=False)
        self.set_nodes(nodes)

    @property
    def url(self) -> str:
        """`http://127.0.0.1:<port>`, once started."""
        if not self._port:
            raise RuntimeError("the emulator is not started")
        return f"http://127.0.0.1:{self._port}"

    async def start(self) -> None:
        """Listen on a free port and run the controllers."""
        if self._runner is not None:
            return
        handler = Handler(
            self.api,
            logs=self._kubelet.logs,
            bookmark_interval=lambda: self.timings.bookmark_interval,
            on_request=lambda method, path: self.requests.append((method, path)),
            on_failure=self.failures.append,
        )
        server = web.Server(handler, handler_cancellation=True, access_log=None)
        runner = web.ServerRunner(server, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self._runner = runner
        self._port = runner.addresses[0][1]
        self._manager.start()

    async def stop(self) -> None:
        """End the watches, stop the controllers and the server; safe to call twice."""
        runner, self._runner = self._runner, None
        self.store.end_watches()
        await self._manager.stop()
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> "KubeEmulator":
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # Steering

    def set_nodes(self, nodes: Mapping[str, Mapping[str, str]]) -> None:
        """Make the cluster's nodes exactly these (name -> extra labels), all Ready."""
        for node in self.store.select(kinds.NODES):
            if meta.name_of(node) not in nodes:
                self.store.remove(kinds.NODES, "", meta.name_of(node))
        for index, (name, extra) in enumerate(sorted(nodes.items())):
            labels = {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", **extra}
            ready = {
                "type": "Ready",
                "status": "True",
                "reason": "KubeletReady",
                "lastHeartbeatTime": meta.now(),
                "lastTransitionTime": meta.now(),
            }
            status = {
                "conditions": [ready],
                "addresses": [
                    {"type": "InternalIP", "address": f"10.0.0.{index + 2}"},
                    {"type": "Hostname", "address": name},
                ],
                "capacity": {"cpu": "4", "memory": "16Gi", "pods": "110"},
                "allocatable": {"cpu": "4", "memory": "16Gi", "pods": "110"},
            }
            existing = self.store.get(kinds.NODES, "", name)
            if existing is None:
                existing = self.api.create(
                    kinds.NODES, "", {"metadata": {"name": name}, "spec": {}}, check=False
                )
            changed = copy.deepcopy(existing)
            changed["metadata"]["labels"] = labels
            changed["status"] = status
            self.api.commit(kinds.NODES, changed)

    def compact(self) -> None:
        """Forget the watch history so far: a watch from an older resourceVersion gets 410."""
        self.store.compact()

    def end_watches(self) -> int:
        """End every open watch now (clients see the stream end); how many there were."""
        return self.store.end_watches()

    # Reading

    def get(self, resource: str, namespace: str, name: str) -> dict[str, Any] | None:
        """An object by plural (`pods`, `deployments`) or `plural.group`; None if absent."""
        return self.store.get(kinds.lookup(resource), namespace, name)

    def objects(self, resource: str, namespace: str | None = None) -> list[dict[str, Any]]:
        """The objects of a resource, in one namespace or all."""
        return self.store.select(kinds.lookup(resource), namespace)

    async def until(self, predicate: Callable[[], bool]) -> None:
        """Wait until `predicate()` holds, checking after every change of the cluster.

        Bound it with `asyncio.timeout(...)`: without, it waits as long as it takes.
        """
        while not predicate():
            changed = asyncio.Event()
            self._waiters.add(changed)
            try:
                await changed.wait()
            finally:
                self._waiters.discard(changed)

    def problems(self) -> list[str]:
        """Invalid objects sent and the emulator's own failures, as lines."""
        return [f"invalid object refused: {i}" for i in self.invalid] + [
            f"emulator failure: {f}" for f in self.failures
        ]

    # Clients

    def configuration(self) -> "Configuration":
        """A kubernetes-asyncio client configuration for this server."""
        from kubernetes_asyncio.client import Configuration  # 4 s to import: only when asked

        return Configuration(host=self.url)

    def write_kubeconfig(self, path: Path, *, namespace: str = "default") -> Path:
        """Write a kubeconfig naming this server (context `emulator`) to `path`."""
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "emulator", "cluster": {"server": self.url}}],
            "users": [{"name": "emulator", "user": {"token": "emulator"}}],
            "contexts": [
                {
                    "name": "emulator",
                    "context": {"cluster": "emulator", "user": "emulator", "namespace": namespace},
                }
            ],
            "current-context": "emulator",
        }
        path.write_text(json.dumps(config, indent=2))
        os.chmod(path, 0o600)
        return path

    def _wake_waiters(self, _event: Event) -> None:
        for waiter in self._waiters:
            waiter.set()
