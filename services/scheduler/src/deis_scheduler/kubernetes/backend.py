"""The Kubernetes backend: apps as Deployments on a cluster, and `deis run` as a pod.

One watch cache (`cache.Cache`) serves every app; pod changes are published to KV `procs` for
the app they belong to, at most every `PROCS_INTERVAL` seconds. At start the backend waits for
the cache, then adopts every namespace of ours: a restarted scheduler re-lists the cluster and
converges without recreating anything that is right.
"""

import asyncio
import contextlib
import logging
import time
import uuid
from typing import Final

from deis_scheduler.app import runs
from deis_scheduler.app.backend import AppProcesses
from deis_scheduler.kubernetes import manifests, pods
from deis_scheduler.kubernetes.client import KubeError
from deis_scheduler.kubernetes.context import KubeContext
from deis_scheduler.kubernetes.runtime import KubeApp
from deis_shared import errors
from deis_shared.kv import desired as desired_kv
from deis_shared.rpc import scheduler as scheduler_rpc

logger = logging.getLogger(__name__)

PROCS_INTERVAL: Final = 0.2
"""Seconds between publications of the pods of apps whose pods changed."""


class KubernetesBackend:
    """Apps' processes on a Kubernetes cluster."""

    def __init__(self, ctx: KubeContext) -> None:
        """Run apps through `ctx`'s client and cache."""
        self._ctx = ctx
        self._apps: dict[str, KubeApp] = {}
        self._dirty: set[str] = set()
        self._wake = asyncio.Event()
        ctx.cache.on_change = self._changed

    def app(self, name: str) -> KubeApp:
        """The handle of app `name`."""
        handle = self._apps.get(name)
        if handle is None:
            handle = self._apps[name] = KubeApp(self._ctx, app=name)
        return handle

    async def adopt(self) -> list[AppProcesses]:
        """A handle per namespace of ours, with its live and failed releases."""
        await self._ctx.cache.synced()
        found: list[AppProcesses] = []
        for namespace in self._ctx.cache.namespaces():
            app = (namespace["metadata"].get("labels") or {}).get("app")
            if not app:
                continue
            handle = self.app(app)
            handle.adopt()
            found.append(handle)
        logger.info("adopted %d apps from the cluster", len(found))
        return found

    async def publish_procs(self) -> None:
        """Publish the pods of apps whose pods changed; runs until cancelled."""
        while True:
            _raise_if_cancelled()
            await self._wake.wait()
            self._wake.clear()
            dirty, self._dirty = self._dirty, set()
            for name in sorted(dirty):
                handle = self._apps.get(name)
                if handle is None:
                    continue
                try:
                    await handle.publish_procs()
                except errors.TransientError as exc:
                    _raise_if_cancelled()
                    logger.warning("the pods of %s were not published: %s", name, exc)
                    self._dirty.add(name)
            await asyncio.sleep(PROCS_INTERVAL)

    def _changed(self, kind: str, namespace: str) -> None:
        if kind == "Pod" and namespace:
            self._dirty.add(namespace)
            self._wake.set()

    async def run(
        self, *, desired: desired_kv.DesiredState | None, request: scheduler_rpc.RunRequest
    ) -> scheduler_rpc.RunReply:
        """Run the command in a pod of the release, never restarted, deleted afterwards."""
        if desired is None or (desired.build is None and desired.image is None):
            raise runs.NoRelease(f"{request.app} has no release with a build to run commands in")
        kube, settings = self._ctx.kube, self._ctx.settings
        name = f"{request.app}-run-{uuid.uuid4().hex[:5]}"
        pod = manifests.run_pod(
            desired,
            name=name,
            command=request.command,
            timeout=request.timeout_seconds,
            settings=settings,
        )
        try:
            await kube.create(pod)
        except KubeError as exc:
            if exc.status == 422:
                raise runs.CannotStart(f"the command could not start: {exc}") from exc
            raise
        output = runs.Output()
        try:
            code = await self._wait_for(name, request.app, seconds=request.timeout_seconds)
            text = await kube.pod_log(name, request.app, tail=100_000, previous=False)
            for line in text.splitlines():
                output.keep(line)
            if code is None:
                code = runs.TIMED_OUT
                output.keep(f"(killed after {request.timeout_seconds:.0f} s)")
        finally:
            with contextlib.suppress(KubeError):
                await kube.delete("Pod", name, request.app)
        logger.info("%s ran %r for %s: exit %d", request.app, request.command, request.user, code)
        return scheduler_rpc.RunReply(
            exit_code=code, output=output.text(), truncated=output.truncated
        )

    async def _wait_for(self, name: str, app: str, *, seconds: float) -> int | None:
        """The pod's exit code once it ended; None if it ran past `seconds`."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            pod = self._ctx.cache.get("Pod", name, app)
            if pod is not None and pod.get("status", {}).get("phase") in ("Succeeded", "Failed"):
                ended = pods.container_status(pod).get("state", {}).get("terminated") or {}
                return int(ended.get("exitCode", 1))
            await self._ctx.cache.wait(min(left, 1.0))
        return None


def _raise_if_cancelled() -> None:
    """Go on cancelling, if the task is being cancelled.

    A publish cancelled midway may swallow the cancellation, or turn it into the bus being
    away (nats-py); the loop would then wait forever.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
