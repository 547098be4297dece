"""HTTP: the Kubernetes REST paths, mapped onto `apiserver`, and watches as chunked streams.

Paths: `/api/v1/<plural>[/<name>[/<sub>]]`, `/api/v1/namespaces/<ns>/<plural>[/<name>[/<sub>]]`
and the same under `/apis/<group>/<version>`; discovery and `/version` beside them. A list
with `watch=true` (or `1`, or kubernetes-asyncio's `True`) streams newline-delimited JSON
events until `timeoutSeconds`, `Store.end_watches()` or the client leaving; a watch from a
compacted revision gets one ERROR event carrying a 410 Status, as from the API server.
"""

import asyncio
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from deis_testing.kube import deleting, discovery, errors, kinds, scaling, selectors
from deis_testing.kube.apiserver import ApiServer
from deis_testing.kube.kinds import Kind

Logs = Callable[[dict[str, Any], str, bool], list[str]]
"""Reads a container's log: (pod, container name or "", previous) -> lines."""

_NOT_FOUND = errors.ApiError(404, "NotFound", "the server could not find the requested resource")


@dataclass(frozen=True)
class Target:
    """What a resource path names."""

    kind: Kind
    namespace: str | None
    name: str | None
    subresource: str


class Handler:
    """The aiohttp request handler of one emulator."""

    def __init__(
        self,
        api: ApiServer,
        *,
        logs: Logs,
        bookmark_interval: Callable[[], float],
        on_request: Callable[[str, str], None],
        on_failure: Callable[[str], None],
    ) -> None:
        self._api = api
        self._logs = logs
        self._bookmark_interval = bookmark_interval
        self._on_request = on_request
        self._on_failure = on_failure

    async def __call__(self, request: web.BaseRequest) -> web.StreamResponse:
        """Answer one request; an ApiError becomes its Status, anything else a 500."""
        self._on_request(request.method, request.path_qs)
        try:
            return await self._serve(request)
        except errors.ApiError as exc:
            return web.json_response(exc.status(), status=exc.code)
        except Exception as exc:  # noqa: BLE001  # an emulator bug: answer 500, fail the test
            self._on_failure(f"{request.method} {request.path_qs}: {exc!r}")
            failure = errors.ApiError(500, "InternalError", f"emulator failure: {exc!r}")
            return web.json_response(failure.status(), status=500)

    async def _serve(self, request: web.BaseRequest) -> web.StreamResponse:
        parts = [p for p in request.path.split("/") if p]
        document = _discovery(parts)
        if document is not None:
            if request.method != "GET":
                raise errors.method_not_allowed(request.method)
            return web.json_response(document)
        target = _target(parts)
        query = request.query
        method = request.method
        if method == "GET" and target.subresource == "log":
            return await self._log(target, query)
        if method == "GET" and _flag(query.get("watch")):
            return await self._watch(request, target)
        body = await _body(request) if method in ("POST", "PUT", "PATCH", "DELETE") else None
        return web.json_response(self._call(method, target, query, body, request.content_type))

    def _call(
        self, method: str, target: Target, query: Any, body: Any, content_type: str
    ) -> dict[str, Any]:
        api, kind, name, sub = self._api, target.kind, target.name, target.subresource
        namespace = target.namespace or ""
        dry = "All" in query.getall("dryRun", []) or _delete_option({}, body, "dryRun") == ["All"]
        if name is None:
            if method == "GET":
                return api.list_objects(
                    kind,
                    target.namespace,
                    labels=query.get("labelSelector", ""),
                    fields=query.get("fieldSelector", ""),
                    limit=int(query.get("limit", 0) or 0),
                    token=query.get("continue", ""),
                )
            if method == "POST" and (target.namespace is not None or not kind.namespaced):
                return api.create(kind, namespace, body, dry_run=dry)
            if method == "DELETE":
                return deleting.delete_collection(
                    api,
                    kind,
                    target.namespace,
                    labels=query.get("labelSelector", ""),
                    fields=query.get("fieldSelector", ""),
                    propagation=_delete_option(query, body, "propagationPolicy") or "",
                )
            raise errors.method_not_allowed(method)
        if sub == "scale":
            if method == "GET":
                return scaling.scale(api, kind, namespace, name)
            if method in ("PUT", "PATCH"):
                return scaling.write_scale(api, kind, namespace, name, content_type, body)
            raise errors.method_not_allowed(method)
        if method == "GET":
            return api.get(kind, namespace, name)
        if method == "PUT":
            return api.replace(kind, namespace, name, body, subresource=sub, dry_run=dry)
        if method == "PATCH":
            return api.patch(
                kind, namespace, name, content_type, body, subresource=sub, dry_run=dry
            )
        if method == "DELETE" and not sub:
            grace = _delete_option(query, body, "gracePeriodSeconds")
            return deleting.delete(
                api,
                kind,
                namespace,
                name,
                propagation=_delete_option(query, body, "propagationPolicy") or "",
                grace=None if grace is None else int(grace),
                preconditions=(body or {}).get("preconditions"),
                dry_run=dry,
            )
        raise errors.method_not_allowed(method)

    async def _watch(self, request: web.BaseRequest, target: Target) -> web.StreamResponse:
        query = request.query
        since_text = query.get("resourceVersion", "")
        fields = query.get("fieldSelector", "")
        if target.name is not None:
            fields = ",".join(filter(None, [fields, f"metadata.name={target.name}"]))
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        try:
            watch = self._api.store.watch(
                target.kind,
                namespace=target.namespace,
                since=int(since_text) if since_text not in ("", "0") else None,
                labels=selectors.parse_labels(query["labelSelector"])
                if query.get("labelSelector")
                else None,
                fields=selectors.parse_fields(fields) if fields else None,
            )
        except errors.ApiError as exc:
            if exc.code != 410:
                raise
            await response.prepare(request)
            await response.write(
                json.dumps({"type": "ERROR", "object": exc.status()}).encode() + b"\n"
            )
            await response.write_eof()
            return response
        loop = asyncio.get_running_loop()
        timeout = query.get("timeoutSeconds")
        deadline = loop.time() + float(timeout) if timeout else math.inf
        bookmarks = _flag(query.get("allowWatchBookmarks"))
        await response.prepare(request)
        try:
            while (left := deadline - loop.time()) > 0:
                wait = min(left, self._bookmark_interval()) if bookmarks else left
                try:
                    event = await asyncio.wait_for(
                        watch.queue.get(), None if math.isinf(wait) else wait
                    )
                except TimeoutError:
                    if bookmarks and deadline - loop.time() > 0:
                        event = _bookmark(target.kind, self._api.store.revision)
                    else:
                        continue
                if event is None:
                    break
                await response.write(json.dumps(event).encode() + b"\n")
        except ConnectionResetError:
            return response
        finally:
            self._api.store.unwatch(watch)
        await response.write_eof()
        return response

    async def _log(self, target: Target, query: Any) -> web.StreamResponse:
        if target.name is None or target.namespace is None:
            raise _NOT_FOUND
        pod = self._api.get(target.kind, target.namespace, target.name)
        lines = self._logs(pod, query.get("container", ""), _flag(query.get("previous")))
        tail = query.get("tailLines")
        if tail is not None:
            lines = lines[-int(tail) :] if int(tail) > 0 else []
        text = "".join(f"{line}\n" for line in lines)
        return web.Response(text=text, content_type="text/plain")


def _flag(value: str | None) -> bool:
    return value is not None and value.lower() in ("true", "1")


def _delete_option(query: Any, body: Any, name: str) -> Any:
    if name in query:
        return query[name]
    return body.get(name) if isinstance(body, dict) else None


def _bookmark(kind: Kind, revision: int) -> dict[str, Any]:
    obj = {
        "kind": kind.kind,
        "apiVersion": kind.api_version,
        "metadata": {"resourceVersion": str(revision)},
    }
    return {"type": "BOOKMARK", "object": obj}


async def _body(request: web.BaseRequest) -> Any:
    raw = await request.read()
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise errors.bad_request(f"the body is not JSON: {exc}") from None


def _discovery(parts: list[str]) -> dict[str, Any] | None:
    match parts:
        case []:
            paths = ["/api", "/api/v1", "/apis", "/version"]
            for group, versions in kinds.groups().items():
                paths += [f"/apis/{group}"] + [f"/apis/{group}/{v}" for v in versions]
            return {"paths": paths}
        case ["version"]:
            return dict(discovery.SERVER_VERSION)
        case ["api"]:
            return discovery.core_versions()
        case ["apis"]:
            return discovery.group_list()
        case ["api", version]:
            return _found(discovery.resources("", version))
        case ["apis", group]:
            return _found(discovery.group(group))
        case ["apis", group, version]:
            return _found(discovery.resources(group, version))
    return None


def _found(document: dict[str, Any] | None) -> dict[str, Any]:
    if document is None:
        raise _NOT_FOUND
    return document


def _target(parts: list[str]) -> Target:
    match parts:
        case ["api", version, *rest]:
            group = ""
        case ["apis", group, version, *rest]:
            pass
        case _:
            raise _NOT_FOUND
    namespace: str | None = None
    if len(rest) >= 3 and rest[0] == "namespaces":
        nested = kinds.BY_PATH.get((group, version, rest[2]))
        if nested is not None and nested.namespaced:
            namespace, rest = rest[1], rest[2:]
    kind = kinds.BY_PATH.get((group, version, rest[0]))
    if kind is None or len(rest) > 3 or (kind.namespaced and namespace is None and len(rest) > 1):
        raise _NOT_FOUND
    name = rest[1] if len(rest) > 1 else None
    subresource = rest[2] if len(rest) > 2 else ""
    if subresource and subresource not in kind.subresources:
        raise _NOT_FOUND
    return Target(kind, namespace, name, subresource)
