"""Pods read as Deis reads them: a process state for `deis ps`, and why a rollout is stuck.

States are Deis's pod API names (`procs_kv.ProcessState`). A pod's failure, where there is one a
user can act on, is a `Trouble`: a crash loop (with the exit code), running out of memory, an
image that cannot be pulled, a container that cannot be configured, no node to run on.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from deis_scheduler.kubernetes.manifests import Manifest
from deis_shared.kv import procs as procs_kv

State = procs_kv.ProcessState

PULL_FAILURES: Final = frozenset({"ErrImagePull", "ImagePullBackOff", "InvalidImageName"})
CONFIG_FAILURES: Final = frozenset({"CreateContainerConfigError", "CreateContainerError"})


@dataclass(frozen=True)
class Trouble:
    """Why a pod cannot serve, in words a user can act on."""

    reason: str
    crashed: bool = False
    """Whether it ran and ended (its last log lines say why)."""


def container_status(pod: Manifest) -> dict[str, Any]:
    """The status of the pod's (only) container, or {}."""
    statuses = pod.get("status", {}).get("containerStatuses") or []
    return statuses[0] if statuses else {}


def ready(pod: Manifest) -> bool:
    """Whether the pod is Ready."""
    for condition in pod.get("status", {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            return bool(condition.get("status") == "True")
    return False


def state(pod: Manifest) -> State:
    """The pod's state as `deis ps` names it."""
    if pod["metadata"].get("deletionTimestamp"):
        return State.TERMINATING
    status = pod.get("status", {})
    phase = status.get("phase", "Pending")
    container = container_status(pod)
    waiting = container.get("state", {}).get("waiting") or {}
    if waiting.get("reason") == "CrashLoopBackOff":
        return State.CRASHED
    if waiting.get("reason") in PULL_FAILURES | CONFIG_FAILURES:
        return State.ERROR
    if phase == "Running":
        return State.UP if ready(pod) else State.STARTING
    if phase == "Succeeded":
        return State.DOWN
    if phase == "Failed":
        return State.CRASHED
    if container:
        return State.CREATING
    return State.INITIALIZING


def trouble(pod: Manifest) -> Trouble | None:
    """What keeps the pod from serving, if it is something a user must fix."""
    container = container_status(pod)
    waiting = container.get("state", {}).get("waiting") or {}
    last = container.get("lastState", {}).get("terminated") or {}
    reason = waiting.get("reason")
    if last.get("reason") == "OOMKilled":
        return Trouble("ran out of memory (OOMKilled): raise its memory limit", crashed=True)
    if reason == "CrashLoopBackOff" or (last and int(container.get("restartCount") or 0) > 0):
        code = last.get("exitCode")
        said = f"exited with code {code}" if code is not None else "keeps exiting"
        return Trouble(f"{said} (crash loop)", crashed=True)
    if reason in PULL_FAILURES:
        message = waiting.get("message") or reason
        return Trouble(f"its image cannot be pulled: {message}")
    if reason in CONFIG_FAILURES:
        return Trouble(f"its container cannot be made: {waiting.get('message') or reason}")
    for condition in pod.get("status", {}).get("conditions") or []:
        if (
            condition.get("type") == "PodScheduled"
            and condition.get("status") == "False"
            and condition.get("reason") == "Unschedulable"
        ):
            return Trouble(f"no node can run it: {condition.get('message') or 'unschedulable'}")
    return None


def process(pod: Manifest, *, index: int) -> procs_kv.Process:
    """The pod as an entry of KV `procs`."""
    meta, labels = pod["metadata"], pod["metadata"].get("labels", {})
    container = container_status(pod)
    last = container.get("lastState", {}).get("terminated") or {}
    terminated = container.get("state", {}).get("terminated") or {}
    started = pod.get("status", {}).get("startTime")
    code = terminated.get("exitCode", last.get("exitCode"))
    return procs_kv.Process(
        name=meta["name"],
        type=labels.get("type", "web"),
        index=index,
        release=int(str(labels.get("version", "v1")).removeprefix("v") or 1),
        state=state(pod),
        started=datetime.fromisoformat(started.replace("Z", "+00:00")) if started else None,
        restarts=int(container.get("restartCount") or 0),
        exit_code=int(code) if code is not None else None,
    )


def processes(pods: list[Manifest]) -> list[procs_kv.Process]:
    """The app's pods (one-off runs left out) as `procs` entries, indexed per type by age."""
    found: list[procs_kv.Process] = []
    by_type: dict[str, list[Manifest]] = {}
    for pod in pods:
        kind = pod["metadata"].get("labels", {}).get("type")
        if kind and kind != "run":
            by_type.setdefault(kind, []).append(pod)
    for kind in sorted(by_type):
        ordered = sorted(
            by_type[kind],
            key=lambda p: (p["metadata"].get("creationTimestamp", ""), p["metadata"]["name"]),
        )
        found += [process(pod, index=i) for i, pod in enumerate(ordered, start=1)]
    return found
