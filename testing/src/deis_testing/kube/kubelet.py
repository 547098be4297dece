"""The scheduler and kubelet stand-in: places pods on nodes and plays their containers' lives.

Scheduling honours `nodeSelector` against node labels (affinity, taints and resources are not
modelled): a pod no node fits stays Pending with `PodScheduled=False`, reason
`Unschedulable`, until the nodes change. A scheduled pod gets a behaviour from the test's
callable (see `behaviours`), and its status then moves as a kubelet would write it:
ContainerCreating, Running, Ready; or CrashLoopBackOff with the last termination; or
ErrImagePull and ImagePullBackOff; or, under `restartPolicy: Never`, Succeeded or Failed.
A deleted pod goes after `Timings.pod_termination`, whatever its grace period.

Each run of a container keeps the lines it "wrote", for `pods/<name>/log`.
"""

import copy
import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from deis_testing.kube import behaviours, errors, kinds, meta
from deis_testing.kube.apiserver import ApiServer
from deis_testing.kube.behaviours import Behaviour
from deis_testing.kube.controlling import Key, Manager
from deis_testing.kube.store import Event
from deis_testing.kube.timings import Timings

Pod = dict[str, Any]


@dataclass
class _Run:
    """What the kubelet knows of one pod it runs."""

    uid: str
    behaviour: Behaviour
    logs: dict[str, list[list[str]]] = field(default_factory=dict)
    """Per container, the lines of each run, oldest first."""
    timer: Any = None
    leaving: bool = False


class Kubelet:
    """Schedules pods and drives their status."""

    name = "kubelet"

    def __init__(
        self,
        api: ApiServer,
        manager: Manager,
        *,
        timings: Timings,
        behaviour: Callable[[], Callable[[Pod], Behaviour]],
    ) -> None:
        self._api = api
        self._store = api.store
        self._manager = manager
        self._timings = timings
        self._behaviour = behaviour
        self._runs: dict[Key, _Run] = {}
        self._addresses = 0

    def keys(self, event: Event) -> Iterable[Key]:
        """Pods on their own events; the unscheduled ones when the nodes change."""
        if event.kind is kinds.PODS:
            yield meta.namespace_of(event.obj), meta.name_of(event.obj)
        elif event.kind is kinds.NODES:
            for pod in self._store.select(kinds.PODS):
                if not pod["spec"].get("nodeName"):
                    yield meta.namespace_of(pod), meta.name_of(pod)

    def reconcile(self, key: Key) -> None:
        """Schedule, start or remove the pod."""
        pod = self._store.get(kinds.PODS, *key)
        run = self._runs.get(key)
        if run is not None and (pod is None or meta.uid_of(pod) != run.uid):
            self._manager.cancel(run.timer)
            del self._runs[key]
            run = None
        if pod is None:
            return
        if meta.terminating(pod):
            if run is None:
                run = self._runs[key] = _Run(meta.uid_of(pod), behaviours.NeverReady())
            if not run.leaving:
                run.leaving = True
                self._manager.cancel(run.timer)
                run.timer = self._manager.call_later(
                    self._timings.pod_termination, functools.partial(self._remove, key, run)
                )
        elif not pod["spec"].get("nodeName"):
            self._schedule(pod)
        elif "containerStatuses" not in pod["status"]:
            changed = copy.deepcopy(pod)
            self._place(changed, self._store.get(kinds.NODES, "", pod["spec"]["nodeName"]))
            self._api.commit(kinds.PODS, changed)
        elif run is None and pod["status"].get("phase") not in ("Succeeded", "Failed"):
            behaviour = self._behaviour()(copy.deepcopy(pod))
            self._runs[key] = _Run(meta.uid_of(pod), behaviour)
            self._after(key, self._timings.start, self._start)

    def logs(self, pod: Pod, container: str, previous: bool) -> list[str]:
        """The lines a container of `pod` wrote, in its last run (or the one before).

        Raises:
            ApiError: 400, no such container, or it has not run (as often as asked).
        """
        name = meta.name_of(pod)
        containers = [c["name"] for c in pod["spec"]["containers"]]
        if not container:
            if len(containers) > 1:
                raise errors.bad_request(
                    f"a container name must be specified for pod {name}, choose one of: "
                    f"[{' '.join(containers)}]"
                )
            container = containers[0]
        if container not in containers:
            raise errors.bad_request(f"container {container} is not valid for pod {name}")
        run = self._runs.get((meta.namespace_of(pod), name))
        runs = run.logs.get(container, []) if run and run.uid == meta.uid_of(pod) else []
        if previous:
            if len(runs) < 2:
                raise errors.bad_request(
                    f'previous terminated container "{container}" in pod "{name}" not found'
                )
            return runs[-2]
        if not runs:
            waiting = _waiting_reason(pod, container) or "ContainerCreating"
            raise errors.bad_request(
                f'container "{container}" in pod "{name}" is waiting to start: {waiting}'
            )
        return runs[-1]

    # Steps of a pod's life

    def _schedule(self, pod: Pod) -> None:
        wanted = pod["spec"].get("nodeSelector") or {}
        nodes = self._store.select(kinds.NODES)
        fitting = [
            n
            for n in nodes
            if wanted.items() <= meta.labels_of(n).items() and not n["spec"].get("unschedulable")
        ]
        changed = copy.deepcopy(pod)
        status = changed["status"]
        if not fitting:
            message = (
                f"0/{len(nodes)} nodes are available: {len(nodes)} node(s) didn't match "
                "Pod's node affinity/selector."
            )
            meta.set_condition(
                status, "PodScheduled", "False", reason="Unschedulable", message=message, pod=True
            )
            self._api.commit(kinds.PODS, changed)
            return
        load = {meta.name_of(n): 0 for n in fitting}
        for other in self._store.select(kinds.PODS):
            if other["spec"].get("nodeName") in load:
                load[other["spec"]["nodeName"]] += 1
        node = min(fitting, key=lambda n: (load[meta.name_of(n)], meta.name_of(n)))
        self._place(changed, node)
        self._api.commit(kinds.PODS, changed)

    def _place(self, pod: Pod, node: dict[str, Any] | None) -> None:
        """Bind `pod` to `node` and write the status of a pod whose containers are coming."""
        addresses = (node or {}).get("status", {}).get("addresses") or [{"address": "10.0.0.1"}]
        pod["spec"]["nodeName"] = meta.name_of(node) if node else pod["spec"]["nodeName"]
        status = pod["status"]
        status.update(
            phase="Pending",
            hostIP=addresses[0]["address"],
            startTime=meta.now(),
            containerStatuses=[
                _container(c, waiting={"reason": "ContainerCreating"})
                for c in pod["spec"]["containers"]
            ],
        )
        status["conditions"] = []
        for kind, value in (
            ("PodReadyToStartContainers", "False"),
            ("Initialized", "True"),
            ("Ready", "False"),
            ("ContainersReady", "False"),
            ("PodScheduled", "True"),
        ):
            meta.set_condition(status, kind, value, pod=True)

    def _start(self, key: Key, run: _Run, pod: Pod) -> None:
        behaviour = run.behaviour
        status = pod["status"]
        if isinstance(behaviour, behaviours.ImagePullFailure):
            self._set_waiting(pod, "ErrImagePull", behaviour.message)
            self._after(key, self._timings.backoff, self._pull_backoff)
            return
        for container in pod["spec"]["containers"]:
            run.logs.setdefault(container["name"], []).append(list(behaviour.logs))
        for entry in status["containerStatuses"]:
            entry.update(state={"running": {"startedAt": meta.now()}}, started=True, ready=False)
            entry["containerID"] = f"containerd://{run.uid.replace('-', '')}"
        self._addresses += 1 if "podIP" not in status else 0
        ip = status.get("podIP") or f"10.244.{self._addresses // 250}.{self._addresses % 250 + 1}"
        status.update(phase="Running", podIP=ip, podIPs=[{"ip": ip}])
        meta.set_condition(status, "PodReadyToStartContainers", "True", pod=True)
        self._set_ready(status, ready=False)
        if isinstance(behaviour, behaviours.Ready):
            self._after(key, behaviour.delay, self._ready)
        elif isinstance(behaviour, behaviours.Exit):
            self._after(key, behaviour.delay, self._exit)

    def _ready(self, _key: Key, _run: _Run, pod: Pod) -> None:
        for entry in pod["status"]["containerStatuses"]:
            entry["ready"] = True
        self._set_ready(pod["status"], ready=True)

    def _exit(self, key: Key, run: _Run, pod: Pod) -> None:
        assert isinstance(run.behaviour, behaviours.Exit)
        code = run.behaviour.exit_code
        reason = run.behaviour.reason or ("Completed" if code == 0 else "Error")
        policy = pod["spec"].get("restartPolicy", "Always")
        status = pod["status"]
        for entry in status["containerStatuses"]:
            started = entry["state"].get("running", {}).get("startedAt", meta.now())
            terminated = {
                "exitCode": code,
                "reason": reason,
                "startedAt": started,
                "finishedAt": meta.now(),
                "containerID": entry.get("containerID", ""),
            }
            entry.update(ready=False, started=False)
            if policy == "Never" or (policy == "OnFailure" and code == 0):
                entry["state"] = {"terminated": terminated}
            else:
                entry["lastState"] = {"terminated": terminated}
                entry["restartCount"] += 1
                entry["state"] = {
                    "waiting": {
                        "reason": "CrashLoopBackOff",
                        "message": (
                            f"back-off 10s restarting failed container={entry['name']} "
                            f"pod={meta.name_of(pod)}_{meta.namespace_of(pod)}({run.uid})"
                        ),
                    }
                }
        if policy == "Never" or (policy == "OnFailure" and code == 0):
            status["phase"] = "Succeeded" if code == 0 else "Failed"
            self._set_ready(status, ready=False, reason="PodCompleted")
        else:
            self._set_ready(status, ready=False)
            self._after(key, self._timings.backoff, self._start)

    def _pull_backoff(self, _key: Key, _run: _Run, pod: Pod) -> None:
        image = pod["spec"]["containers"][0].get("image", "")
        self._set_waiting(pod, "ImagePullBackOff", f'Back-off pulling image "{image}"')

    # Helpers

    def _after(self, key: Key, delay: float, step: Callable[[Key, _Run, Pod], None]) -> None:
        """Run `step` on a copy of the pod in `delay` seconds, then write the copy."""
        run = self._runs[key]

        def fire() -> None:
            pod = self._store.get(kinds.PODS, *key)
            if pod is None or not self._same(key, run) or meta.terminating(pod):
                return
            changed = copy.deepcopy(pod)
            step(key, run, changed)
            self._api.commit(kinds.PODS, changed)

        run.timer = self._manager.call_later(delay, fire)

    def _remove(self, key: Key, run: _Run) -> None:
        if self._same(key, run):
            self._store.remove(kinds.PODS, *key)

    def _same(self, key: Key, run: _Run) -> bool:
        return self._runs.get(key) is run

    def _set_waiting(self, pod: Pod, reason: str, message: str) -> None:
        for entry in pod["status"]["containerStatuses"]:
            entry["state"] = {"waiting": {"reason": reason, "message": message}}
        self._set_ready(pod["status"], ready=False)

    def _set_ready(self, status: dict[str, Any], *, ready: bool, reason: str = "") -> None:
        value = "True" if ready else "False"
        unready = [e["name"] for e in status.get("containerStatuses", []) if not e["ready"]]
        if not ready and not reason:
            reason = "ContainersNotReady"
        message = (
            f"containers with unready status: [{' '.join(unready)}]"
            if (reason == "ContainersNotReady")
            else ""
        )
        for kind in ("Ready", "ContainersReady"):
            meta.set_condition(status, kind, value, reason=reason, message=message, pod=True)


def _container(container: dict[str, Any], *, waiting: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": container["name"],
        "image": container.get("image", ""),
        "imageID": "",
        "ready": False,
        "started": False,
        "restartCount": 0,
        "state": {"waiting": waiting},
        "lastState": {},
    }


def _waiting_reason(pod: Pod, container: str) -> str:
    for entry in pod.get("status", {}).get("containerStatuses", []):
        if entry["name"] == container:
            reason: str = entry["state"].get("waiting", {}).get("reason", "")
            return reason
    return ""
