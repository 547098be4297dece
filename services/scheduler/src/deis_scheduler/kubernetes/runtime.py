"""One app on a cluster: its desired state applied, its rollouts tracked, its pods reported.

A converge applies what the release stands for (`manifests`) where the cache shows it differs,
deletes what no longer belongs, and, for a new release, tracks the rollout through the watch
cache: `deploy.succeeded` once every Deployment of the release has all its replicas updated and
available and none of the old left; `deploy.failed` as soon as a new pod shows a trouble a user
must fix (a crash loop, with its exit code and last log lines; running out of memory; an image
that cannot be pulled; no node to run on) or the progress deadline passes. A failed rollout is
rolled back as `kubectl rollout undo` does: each Deployment gets the pod template of its
previous ReplicaSet again, so the previous release keeps serving (the new pods never became
available, and `maxUnavailable: 0` kept the old ones). Failed versions are remembered in an
annotation of the namespace, so that a restarted scheduler does not try them again.

Tags are checked against the nodes' labels before anything is applied: a release no node can
run fails with Deis's `No nodes matched the provided labels`.
"""

import asyncio
import copy
import logging
import time
from typing import Final

from deis_scheduler.app import facts, reporting, restarts
from deis_scheduler.kubernetes import manifests, pods
from deis_scheduler.kubernetes.client import KubeError
from deis_scheduler.kubernetes.context import KubeContext
from deis_scheduler.kubernetes.manifests import Manifest
from deis_shared import processtypes, wire
from deis_shared.events import deploy as deploy_events
from deis_shared.kv import desired as desired_kv, endpoints as endpoints_kv, procs as procs_kv

logger = logging.getLogger(__name__)

FAILED: Final = "deis.io/failed"
"""Namespace annotation: the versions whose rollout failed, comma-separated."""

REVISION: Final = "deployment.kubernetes.io/revision"
"""The Deployment controller's revision annotation of a ReplicaSet."""

TEMPLATE_HASH: Final = "pod-template-hash"
"""The label the Deployment controller adds to a ReplicaSet's pods."""

DELETE_WAIT: Final = 300.0
"""Seconds a deleted app's namespace has to go."""

DEADLINE_SLACK: Final = 15.0
"""Seconds past `progressDeadlineSeconds` before the scheduler gives up by itself."""


class KubeApp:
    """One app's Deployments, Services, Secrets and autoscalers."""

    def __init__(self, ctx: KubeContext, *, app: str) -> None:
        """Handle app `app` with the backend's client and cache."""
        self._ctx = ctx
        self._app = app
        self.version: int | None = None
        """The live release."""
        self.failed: set[int] = set()
        self._desired: desired_kv.DesiredState | None = None
        self._restarts_seen: dict[str, int] | None = None
        self._restarted: dict[str, str] = {}
        """Restart stamps this scheduler set, by process type."""
        self._endpoints: endpoints_kv.Endpoints | None = None
        self._procs: list[procs_kv.Process] | None = None
        self._reports = reporting.Reports(app=app, js=ctx.js, log=ctx.log)
        self._lock = asyncio.Lock()

    @property
    def app(self) -> str:
        """The app's name."""
        return self._app

    def adopt(self) -> None:
        """Take what the cluster says about the app: its live release, its failed ones."""
        namespace = self._ctx.cache.get("Namespace", self.app)
        if namespace is not None:
            noted = (namespace["metadata"].get("annotations") or {}).get(FAILED, "")
            self.failed = {int(v) for v in noted.split(",") if v.strip().isdigit()}
        deployments = self._ctx.cache.all("Deployment", self.app)
        versions = {
            int(release)
            for deployment in deployments
            if (release := (deployment["metadata"].get("annotations") or {}).get(manifests.RELEASE))
            and release.isdigit()
        }
        # A release counts as live only once rolled out everywhere: one a scheduler left
        # midway is tracked again by the next converge (applying nothing that is right).
        if len(versions) == 1 and all(_rolled_out(d, max(versions)) for d in deployments):
            self.version = max(versions)
        else:
            self.version = None

    async def converge(self, desired: desired_kv.DesiredState | None) -> None:
        """Make the cluster match `desired` (`None`: the app is gone)."""
        async with self._lock:
            if desired is None:
                await self._delete()
                return
            self._desired = desired
            await self._ensure_namespace()
            formation = self._formation(desired)
            due, self._restarts_seen = restarts.due(self._restarts_seen, desired)
            version = desired.release.version
            if self.version != version:
                if version not in self.failed:
                    await self._rollout(desired, formation)
            else:
                await self._apply(desired, formation)
                await self._restart_now(due)
            await self._publish_endpoints(desired, formation)
            await self.publish_procs()
            await self._reports.flush()

    async def restart(self, targets: list[str]) -> None:
        """Restart what `targets` name: `*`, a process type, or a pod.

        A type restarts by a rolling update of its Deployment (a new template annotation).
        """
        async with self._lock:
            await self._restart_now(targets)

    async def refuse(self, *, version: int, reason: str) -> None:
        """Fail release `version` without applying it; the live release runs on."""
        async with self._lock:
            if version == self.version or version in self.failed:
                return
            await self._fail(version, reason=reason, last_lines=[])
            await self._reports.flush()

    async def shutdown(self) -> None:
        """Leave the app running: on a cluster, apps outlive the scheduler."""

    async def detach(self) -> None:
        """Leave the app running for the next scheduler, which re-lists it."""

    async def publish_procs(self) -> None:
        """Publish the app's pods to KV `procs` if they changed since last published."""
        found = pods.processes(self._ctx.cache.all("Pod", self.app))
        if found == self._procs:
            return
        await facts.procs(self._ctx.js, value=procs_kv.Procs(app=self.app, processes=found))
        self._procs = found

    # --- applying ----------------------------------------------------------------------------

    def _formation(self, desired: desired_kv.DesiredState) -> dict[str, int]:
        types = manifests.process_types(desired)
        return {kind: n for kind, n in desired.formation.items() if n > 0 and kind in types}

    async def _ensure_namespace(self) -> None:
        cache = self._ctx.cache
        current = cache.get("Namespace", self.app)
        if current is not None and current.get("status", {}).get("phase") == "Terminating":
            await self._wait_gone()
            current = None
        if current is None:
            await self._ctx.kube.apply(manifests.namespace(self.app), None)

    async def _apply(self, desired: desired_kv.DesiredState, formation: dict[str, int]) -> None:
        """Apply every object of the release; delete ours that no longer belong."""
        kube, cache, settings, app = self._ctx.kube, self._ctx.cache, self._ctx.settings, self.app
        wanted: list[Manifest] = [manifests.network_policy(app, settings=settings)]
        if desired.build is not None:
            wanted.append(manifests.store_secret(app, self._ctx.store))
        registry = manifests.registry_secret(desired)
        if registry is not None:
            wanted.append(registry)
        wanted.append(manifests.env_secret(desired))
        routable = processtypes.routed(formation)
        if routable is not None:
            wanted.append(manifests.service(desired, kind=routable, settings=settings))
        for kind, count in sorted(formation.items()):
            wanted.append(self._deployment(desired, kind=kind, count=count))
            if kind in desired.autoscale:
                wanted.append(manifests.autoscaler(desired, kind=kind))
        for manifest in wanted:
            meta = manifest["metadata"]
            await kube.apply(manifest, cache.get(manifest["kind"], meta["name"], app))
        names = {(m["kind"], m["metadata"]["name"]) for m in wanted}
        kept_secrets = self._kept_secrets(desired)
        for kind in ("Deployment", "Service", "HorizontalPodAutoscaler", "Secret"):
            for current in cache.all(kind, app):
                name = current["metadata"]["name"]
                if (kind, name) in names or (kind == "Secret" and name in kept_secrets):
                    continue
                await kube.delete(kind, name, app)

    def _deployment(self, desired: desired_kv.DesiredState, *, kind: str, count: int) -> Manifest:
        name = manifests.deployment_name(self.app, kind)
        current = self._ctx.cache.get("Deployment", name, self.app)
        stamp = self._restarted.get(kind)
        if stamp is None and current is not None:
            template = current["spec"]["template"]["metadata"]
            stamp = (template.get("annotations") or {}).get(manifests.RESTARTED_AT)
        autoscaled = kind in desired.autoscale
        manifest = manifests.deployment(
            desired,
            kind=kind,
            settings=self._ctx.settings,
            replicas=None if autoscaled else count,
            restarted_at=stamp,
        )
        if autoscaled:  # the autoscaler's count stands; outside the hash, so it is not undone
            replicas = current["spec"].get("replicas") if current is not None else None
            minimum = max(1, desired.autoscale[kind].min)
            manifest["spec"] = {"replicas": replicas or minimum, **manifest["spec"]}
        return manifest

    def _kept_secrets(self, desired: desired_kv.DesiredState) -> set[str]:
        """Config Secrets of the releases a rollback may return to, and the slug store's."""
        history = self._ctx.settings.kube_revision_history
        version = desired.release.version
        kept = {
            manifests.env_secret_name(self.app, v)
            for v in range(max(1, version - history), version + 1)
        }
        return kept | {manifests.STORE_SECRET, manifests.REGISTRY_SECRET}

    # --- rollouts ----------------------------------------------------------------------------

    async def _rollout(self, desired: desired_kv.DesiredState, formation: dict[str, int]) -> None:
        version, began = desired.release.version, time.monotonic()
        await facts.event(
            self._ctx.js,
            subject=deploy_events.started_subject(self.app),
            value=deploy_events.DeployStarted(app=self.app, version=version, formation=formation),
        )
        if desired.tags and not await self._nodes_match(desired.tags):
            shown = ", ".join(f"{k}={v}" for k, v in sorted(desired.tags.items()))
            await self._fail(
                version, reason=f"No nodes matched the provided labels: {shown}", last_lines=[]
            )
            return
        await self._apply(desired, formation)
        trouble = await self._track(version, formation)
        if trouble is not None:
            reason, last_lines = trouble
            await self._roll_back(version)
            await self._fail(version, reason=reason, last_lines=last_lines)
            return
        self.version = version
        self._reports.succeeded(
            deploy_events.DeploySucceeded(
                app=self.app, version=version, duration_seconds=time.monotonic() - began
            )
        )

    async def _nodes_match(self, tags: dict[str, str]) -> bool:
        nodes = await self._ctx.kube.list("Node", label_selector="")
        return any(
            all((node["metadata"].get("labels") or {}).get(k) == v for k, v in tags.items())
            for node in nodes.get("items", [])
        )

    async def _track(self, version: int, formation: dict[str, int]) -> tuple[str, list[str]] | None:
        """Wait for the release's rollout; None when done, else why it failed."""
        settings, cache = self._ctx.settings, self._ctx.cache
        deadline = time.monotonic() + settings.kube_progress_deadline + DEADLINE_SLACK
        while True:
            done = True
            for kind in sorted(formation):
                name = manifests.deployment_name(self.app, kind)
                deployment = cache.get("Deployment", name, self.app)
                if deployment is None or not _rolled_out(deployment, version):
                    done = False
                if deployment is not None and _past_deadline(deployment, version):
                    seconds = settings.kube_progress_deadline
                    return f"{kind} did not become ready within {seconds} s", []
                failing = await self._troubled_pod(kind, version)
                if failing is not None:
                    return failing
            if done:
                return None
            if time.monotonic() > deadline:
                return f"the rollout did not finish within {settings.kube_progress_deadline} s", []
            await cache.wait(1.0)
            await self.publish_procs()

    async def _troubled_pod(self, kind: str, version: int) -> tuple[str, list[str]] | None:
        for pod in self._ctx.cache.all("Pod", self.app):
            labels = pod["metadata"].get("labels", {})
            if labels.get("type") != kind or labels.get("version") != f"v{version}":
                continue
            trouble = pods.trouble(pod)
            if trouble is None:
                continue
            lines: list[str] = []
            if trouble.crashed:
                lines = await self._last_lines(pod["metadata"]["name"])
            return f"{kind} {trouble.reason}", lines
        return None

    async def _last_lines(self, pod: str) -> list[str]:
        count = self._ctx.settings.last_lines
        if count == 0:
            return []
        text = ""
        for previous in (True, False):  # the run that ended; else what the current one wrote
            try:
                text = await self._ctx.kube.pod_log(pod, self.app, tail=count, previous=previous)
                break
            except KubeError as exc:
                logger.info("%s: no log of %s (previous=%s): %s", self.app, pod, previous, exc)
        return text.splitlines()[-count:]

    async def _roll_back(self, version: int) -> None:
        """Give each Deployment the template of its previous ReplicaSet (or remove a first one)."""
        kube, cache = self._ctx.kube, self._ctx.cache
        for deployment in cache.all("Deployment", self.app):
            annotations = deployment["metadata"].get("annotations") or {}
            if annotations.get(manifests.RELEASE) != str(version):
                continue
            previous = self._previous_template(deployment, version)
            name = deployment["metadata"]["name"]
            if previous is None:
                await kube.delete("Deployment", name, self.app)
                continue
            template, release = previous
            body = copy.deepcopy(deployment)
            body.pop("status", None)
            body["spec"]["template"] = template
            body["metadata"]["annotations"] = {
                k: v for k, v in annotations.items() if k != manifests.SPEC_HASH
            } | {manifests.RELEASE: release}
            try:
                await kube.replace(body)
            except KubeError as exc:
                if exc.status != 409:
                    raise
                fresh = await kube.read("Deployment", name, self.app)
                if fresh is not None:
                    body["metadata"]["resourceVersion"] = fresh["metadata"]["resourceVersion"]
                    await kube.replace(body)
            logger.info("%s: %s rolled back to v%s", self.app, name, release)

    def _previous_template(self, deployment: Manifest, version: int) -> tuple[Manifest, str] | None:
        uid = deployment["metadata"].get("uid")
        candidates = []
        for replica_set in self._ctx.cache.all("ReplicaSet", self.app):
            owners = replica_set["metadata"].get("ownerReferences") or []
            if not any(owner.get("uid") == uid for owner in owners):
                continue
            template = copy.deepcopy(replica_set["spec"]["template"])
            labels = template["metadata"].get("labels", {})
            release = str(labels.get("version", "")).removeprefix("v")
            if release == str(version) or not release.isdigit():
                continue
            revision = int((replica_set["metadata"].get("annotations") or {}).get(REVISION, 0))
            labels.pop(TEMPLATE_HASH, None)
            candidates.append((revision, template, release))
        if not candidates:
            return None
        _, template, release = max(candidates, key=lambda c: c[0])
        return template, release

    async def _fail(self, version: int, *, reason: str, last_lines: list[str]) -> None:
        self.failed.add(version)
        await self._note_failed()
        logger.warning("rollout of %s v%d failed: %s", self.app, version, reason)
        self._reports.failed(
            deploy_events.DeployFailed(
                app=self.app, version=version, reason=reason, last_lines=last_lines[-200:]
            )
        )

    async def _note_failed(self) -> None:
        namespace = self._ctx.cache.get("Namespace", self.app) or await self._ctx.kube.read(
            "Namespace", self.app
        )
        if namespace is None:
            return
        body = copy.deepcopy(namespace)
        body.pop("status", None)
        annotations = body["metadata"].setdefault("annotations", {})
        annotations[FAILED] = ",".join(str(v) for v in sorted(self.failed)[-50:])
        try:
            await self._ctx.kube.replace(body)
        except KubeError as exc:  # noted again at the next failure; the versions stay failed here
            logger.warning("%s: failed versions not noted: %s", self.app, exc)

    # --- restarts, endpoints, deletion ----------------------------------------------------------

    async def _restart_now(self, targets: list[str]) -> None:
        desired = self._desired
        if not targets or desired is None:
            return
        formation = self._formation(desired)
        kinds = set(formation) if "*" in targets else {t for t in targets if t in formation}
        stamp = wire.utc_now().isoformat()
        for kind in sorted(kinds):
            self._restarted[kind] = stamp
            manifest = self._deployment(desired, kind=kind, count=formation[kind])
            name = manifests.deployment_name(self.app, kind)
            await self._ctx.kube.apply(manifest, self._ctx.cache.get("Deployment", name, self.app))
        for pod in self._ctx.cache.all("Pod", self.app):
            name = pod["metadata"]["name"]
            if name in targets:
                await self._ctx.kube.delete("Pod", name, self.app)

    async def _publish_endpoints(
        self, desired: desired_kv.DesiredState, formation: dict[str, int]
    ) -> None:
        if self.version != desired.release.version:
            return
        kind = processtypes.routed(formation)
        upstreams = []
        if kind is not None and desired.routable:
            host = manifests.service_host(
                self.app, kind, cluster_domain=self._ctx.settings.kube_cluster_domain
            )
            upstreams = [
                endpoints_kv.Upstream(host=host, port=self._ctx.settings.kube_service_port)
            ]
        value = endpoints_kv.Endpoints(
            app=self.app,
            version=desired.release.version,
            process_type=kind or "web",
            upstreams=upstreams,
        )
        previous = self._endpoints
        if previous is not None and (
            previous.version,
            previous.process_type,
            previous.upstreams,
        ) == (
            value.version,
            value.process_type,
            value.upstreams,
        ):
            return
        await facts.endpoints(self._ctx.js, value=value)
        self._endpoints = value

    async def _delete(self) -> None:
        if self._ctx.cache.get("Namespace", self.app) is not None:
            await self._ctx.kube.delete("Namespace", self.app)
            await self._wait_gone()
        self._reports.forget()
        await facts.forget(self._ctx.js, app=self.app)
        self.version, self._desired, self._endpoints, self._procs = None, None, None, None

    async def _wait_gone(self) -> None:
        deadline = time.monotonic() + DELETE_WAIT
        while self._ctx.cache.get("Namespace", self.app) is not None:
            if time.monotonic() > deadline:
                raise KubeError(
                    f"the namespace {self.app} did not go in {DELETE_WAIT:.0f} s", status=0
                )
            await self._ctx.cache.wait(1.0)


def _rolled_out(deployment: Manifest, version: int) -> bool:
    """Whether the Deployment runs `version` only, every replica updated and available."""
    meta, status = deployment["metadata"], deployment.get("status") or {}
    if (meta.get("annotations") or {}).get(manifests.RELEASE) != str(version):
        return False
    if int(status.get("observedGeneration") or 0) < int(meta.get("generation") or 0):
        return False
    want = int(deployment["spec"].get("replicas", 1))
    return (
        int(status.get("updatedReplicas") or 0) >= want
        and int(status.get("availableReplicas") or 0) >= want
        and int(status.get("replicas") or 0) == want
    )


def _past_deadline(deployment: Manifest, version: int) -> bool:
    meta, status = deployment["metadata"], deployment.get("status") or {}
    if (meta.get("annotations") or {}).get(manifests.RELEASE) != str(version):
        return False
    if int(status.get("observedGeneration") or 0) < int(meta.get("generation") or 0):
        return False  # a condition of the template before
    return any(
        condition.get("type") == "Progressing"
        and condition.get("status") == "False"
        and condition.get("reason") == "ProgressDeadlineExceeded"
        for condition in status.get("conditions") or []
    )
