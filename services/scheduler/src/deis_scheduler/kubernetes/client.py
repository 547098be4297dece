"""The Kubernetes API as the backend uses it: plain dicts, by kind, via kubernetes-asyncio.

`Kube` creates, replaces, deletes, reads and lists the few kinds the backend makes
(`KINDS`), and counts its requests (`requests`, for the benchmark). Answers come back as the
JSON the server sent (`_preload_content=False`), so what is read is what the manifests wrote.
Errors become `KubeError` with the HTTP status: 404 and 409 are for callers to handle (a
replace on a stale object is retried by `apply` on a fresh read); a server away is transient.
"""

import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Final

import aiohttp
from kubernetes_asyncio import client, config, watch
from kubernetes_asyncio.client.exceptions import ApiException

from deis_scheduler.kubernetes.manifests import SPEC_HASH, Manifest
from deis_scheduler.settings import SchedulerSettings
from deis_shared import errors

logger = logging.getLogger(__name__)

CONFLICT_RETRIES: Final = 3
"""Replaces of a stale object retried on a fresh read before giving up."""


class KubeError(errors.TransientError):
    """The API server refused or failed a request; `status` says how (0: unreachable)."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


class Gone(KubeError):
    """A watch's resourceVersion is too old (410): list again."""


@dataclass(frozen=True)
class Kind:
    """How the typed APIs name one kind's calls."""

    api: str
    """`core`, `apps`, `autoscaling` or `networking`."""
    name: str
    """The snake-case kind in method names: `deployment`, `namespace`."""
    namespaced: bool = True


KINDS: Final = {
    "Namespace": Kind("core", "namespace", namespaced=False),
    "Node": Kind("core", "node", namespaced=False),
    "Secret": Kind("core", "secret"),
    "Service": Kind("core", "service"),
    "Pod": Kind("core", "pod"),
    "Deployment": Kind("apps", "deployment"),
    "ReplicaSet": Kind("apps", "replica_set"),
    "HorizontalPodAutoscaler": Kind("autoscaling", "horizontal_pod_autoscaler"),
    "NetworkPolicy": Kind("networking", "network_policy"),
}


class Kube:
    """One API server, through one kubernetes-asyncio `ApiClient`."""

    def __init__(self, api_client: client.ApiClient) -> None:
        """Use `api_client` (closed by `close`)."""
        self.api_client = api_client
        self._apis: dict[str, Any] = {
            "core": client.CoreV1Api(api_client),
            "apps": client.AppsV1Api(api_client),
            "autoscaling": client.AutoscalingV2Api(api_client),
            "networking": client.NetworkingV1Api(api_client),
        }
        self.requests = 0
        """Requests sent so far (watches count once per request)."""

    @classmethod
    async def connect(cls, settings: SchedulerSettings) -> "Kube":
        """A client for the kubeconfig in settings, or the pod's own service account."""
        configuration = client.Configuration()
        if settings.kube_config is not None:
            await config.load_kube_config(
                config_file=str(settings.kube_config),
                context=settings.kube_context,
                client_configuration=configuration,
            )
        else:
            config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
        return cls(client.ApiClient(configuration))

    async def close(self) -> None:
        """Close the HTTP client."""
        await self.api_client.close()

    def _method(self, kind: str, verb: str, *, all_namespaces: bool = False) -> Callable[..., Any]:
        spec = KINDS[kind]
        api = self._apis[spec.api]
        if not spec.namespaced:
            name = f"{verb}_{spec.name}"
        elif all_namespaces:
            name = f"{verb}_{spec.name}_for_all_namespaces"
        else:
            name = f"{verb}_namespaced_{spec.name}"
        method: Callable[..., Any] = getattr(api, name)
        return method

    async def _call(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        self.requests += 1
        try:
            response = await method(*args, _preload_content=False, **kwargs)
        except ApiException as exc:
            raise _error(exc) from exc
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise KubeError(f"the Kubernetes API cannot be reached: {exc}", status=0) from exc
        try:
            body = await response.read()
            _check(response.status, body)
            return json.loads(body)
        finally:
            response.release()

    async def create(self, manifest: Manifest) -> Manifest:
        """Create `manifest`'s object; the object as stored."""
        kind = manifest["kind"]
        args = [] if not KINDS[kind].namespaced else [manifest["metadata"]["namespace"]]
        result: Manifest = await self._call(self._method(kind, "create"), *args, manifest)
        return result

    async def replace(self, manifest: Manifest) -> Manifest:
        """Replace the object (`metadata.resourceVersion` set: 409 if it is stale)."""
        kind, meta = manifest["kind"], manifest["metadata"]
        args = [meta["name"]] + ([meta["namespace"]] if KINDS[kind].namespaced else [])
        result: Manifest = await self._call(self._method(kind, "replace"), *args, manifest)
        return result

    async def read(self, kind: str, name: str, namespace: str | None = None) -> Manifest | None:
        """The object, or None if there is none."""
        args = [name] + ([namespace] if KINDS[kind].namespaced else [])
        try:
            result: Manifest = await self._call(self._method(kind, "read"), *args)
        except KubeError as exc:
            if exc.status == 404:
                return None
            raise
        return result

    async def delete(self, kind: str, name: str, namespace: str | None = None) -> bool:
        """Delete the object (dependents go too, in the background); whether it was there."""
        args = [name] + ([namespace] if KINDS[kind].namespaced else [])
        try:
            await self._call(self._method(kind, "delete"), *args, propagation_policy="Background")
        except KubeError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    async def list(self, kind: str, *, label_selector: str) -> Manifest:
        """Every object of `kind` with the labels, in every namespace: the List object."""
        spec = KINDS[kind]
        method = self._method(kind, "list", all_namespaces=spec.namespaced)
        result: Manifest = await self._call(method, label_selector=label_selector)
        return result

    async def pod_log(self, name: str, namespace: str, *, tail: int, previous: bool) -> str:
        """The last `tail` lines a pod's container wrote (`previous`: its last run's)."""
        self.requests += 1
        try:
            response = await self._apis["core"].read_namespaced_pod_log(
                name, namespace, tail_lines=tail, previous=previous, _preload_content=False
            )
        except ApiException as exc:
            raise _error(exc) from exc
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise KubeError(f"the Kubernetes API cannot be reached: {exc}", status=0) from exc
        try:
            data: bytes = await response.read()
            _check(response.status, data)
            return data.decode(errors="replace")
        finally:
            response.release()

    async def apply(self, manifest: Manifest, current: Manifest | None) -> Manifest | None:
        """Make the object `manifest` describes exist as described; None if it already did.

        `current` is the object as last seen (a watch's cache), or None if there is none. An
        object whose `SPEC_HASH` matches is left alone; another is replaced, on a fresh read if
        the one seen was stale.
        """
        if current is None:
            try:
                return await self.create(manifest)
            except KubeError as exc:
                if exc.status != 409:
                    raise
                meta = manifest["metadata"]
                current = await self.read(manifest["kind"], meta["name"], meta.get("namespace"))
                if current is None:
                    raise
        for attempt in range(CONFLICT_RETRIES):
            if _hash(current) == _hash(manifest):
                return None
            fresh = {
                **manifest,
                "metadata": {
                    **manifest["metadata"],
                    "resourceVersion": current["metadata"]["resourceVersion"],
                },
            }
            try:
                return await self.replace(fresh)
            except KubeError as exc:
                if exc.status != 409 or attempt == CONFLICT_RETRIES - 1:
                    raise
            meta = manifest["metadata"]
            read = await self.read(manifest["kind"], meta["name"], meta.get("namespace"))
            if read is None:
                return await self.create(manifest)
            current = read
        return None  # pragma: no cover -- the loop returns or raises

    async def watch(
        self, kind: str, *, label_selector: str, resource_version: str, seconds: int
    ) -> AsyncIterator[tuple[str, Manifest]]:
        """Changes to `kind`'s objects with the labels since `resource_version`, for `seconds`.

        Raises:
            Gone: the server no longer has that version (410): list again.
            KubeError: the watch failed.
        """
        spec = KINDS[kind]
        method = self._method(kind, "list", all_namespaces=spec.namespaced)
        self.requests += 1
        stream = watch.Watch()
        try:
            async with stream:
                async for event in stream.stream(
                    method,
                    label_selector=label_selector,
                    resource_version=resource_version,
                    timeout_seconds=seconds,
                    allow_watch_bookmarks=True,
                ):
                    kind_of_event = event["type"]
                    if kind_of_event == "BOOKMARK":
                        continue
                    yield kind_of_event, event["raw_object"]
        except ApiException as exc:
            raise _error(exc) from exc
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise KubeError(f"the watch of {kind} broke: {exc}", status=0) from exc


def _hash(manifest: Manifest) -> str | None:
    annotations = manifest.get("metadata", {}).get("annotations") or {}
    value = annotations.get(SPEC_HASH)
    return str(value) if value is not None else None


def _check(status: int, body: bytes) -> None:
    """Raise the error a non-2xx answer stands for (unread answers do not raise by themselves)."""
    if 200 <= status <= 299:
        return
    raise _failure(status, "", body)


def _error(exc: ApiException) -> KubeError:
    return _failure(int(exc.status or 0), str(exc.reason or ""), getattr(exc, "body", None))


def _failure(status: int, message: str, body: bytes | str | None) -> KubeError:
    if body:
        with contextlib.suppress(ValueError, AttributeError):
            message = json.loads(body).get("message", message)
    if status == 410:
        return Gone(message or "resource version too old", status=status)
    return KubeError(f"Kubernetes answered {status}: {message}", status=status)
