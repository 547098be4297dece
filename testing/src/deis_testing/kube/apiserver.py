"""The API server's semantics of reads and writes, between HTTP (`serving`) and `store`.

Create fills in what the server owns (uid, creationTimestamp, generation, defaults) and
refuses duplicates (409 AlreadyExists) and new objects in a namespace that is missing (404)
or being terminated (403). Replace and patch refuse a stale `metadata.resourceVersion` (409
Conflict), keep the server's fields and the immutable ones, leave `status` to the `/status`
subresource, and bump `generation` when anything outside metadata and status changes. Every
object a client creates, replaces or patches is validated (`validation`); an invalid one is
refused with 422 Invalid and reported to `on_invalid`, so the test that sent it fails.

Deletion is in `deleting`, the `scale` subresource in `scaling`.
"""

import base64
import copy
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from deis_testing.kube import defaulting, errors, kinds, meta, patches, selectors, validation
from deis_testing.kube.kinds import Kind
from deis_testing.kube.store import Store

_SERVER_METADATA = (
    "uid",
    "creationTimestamp",
    "generation",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
)


@dataclass(frozen=True)
class Invalid:
    """An object refused as invalid: what was asked, and why."""

    verb: str
    kind: str
    namespace: str
    name: str
    problems: tuple[str, ...]
    obj: dict[str, Any] = field(repr=False, compare=False)

    def __str__(self) -> str:
        where = f"{self.namespace}/{self.name}" if self.namespace else self.name
        return f"{self.verb} {self.kind} {where}: " + "; ".join(self.problems)


class ApiServer:
    """Create, read, list, replace and patch objects of the kinds in `kinds`."""

    def __init__(
        self, store: Store, *, versions: tuple[str, ...], on_invalid: Callable[[Invalid], None]
    ) -> None:
        self.store = store
        self._versions = versions
        self._on_invalid = on_invalid
        self._next_ip = 10

    # Reading

    def get(self, kind: Kind, namespace: str, name: str) -> dict[str, Any]:
        """The object. Raises ApiError 404."""
        obj = self.store.get(kind, namespace, name)
        if obj is None:
            raise errors.not_found(kind, name)
        return obj

    def list_objects(
        self,
        kind: Kind,
        namespace: str | None,
        *,
        labels: str = "",
        fields: str = "",
        limit: int = 0,
        token: str = "",
    ) -> dict[str, Any]:
        """A `<Kind>List` at the current revision, filtered and paged as asked."""
        label_match = selectors.parse_labels(labels) if labels else None
        field_match = selectors.parse_fields(fields) if fields else None
        items = [
            obj
            for obj in self.store.select(kind, namespace)
            if (label_match is None or label_match(meta.labels_of(obj)))
            and (field_match is None or field_match(obj))
        ]
        list_meta: dict[str, Any] = {"resourceVersion": str(self.store.revision)}
        if token:
            try:
                after = tuple(json.loads(base64.urlsafe_b64decode(token)))
            except ValueError:
                raise errors.bad_request(f"invalid continue token: {token!r}") from None
            items = [o for o in items if (meta.namespace_of(o), meta.name_of(o)) > after]
        if limit and len(items) > limit:
            last = items[limit - 1]
            key = json.dumps([meta.namespace_of(last), meta.name_of(last)]).encode()
            list_meta["continue"] = base64.urlsafe_b64encode(key).decode()
            list_meta["remainingItemCount"] = len(items) - limit
            items = items[:limit]
        return {
            "kind": kind.list_kind,
            "apiVersion": kind.api_version,
            "metadata": list_meta,
            "items": [
                {k: v for k, v in obj.items() if k not in ("kind", "apiVersion")} for obj in items
            ],
        }

    # Writing

    def create(
        self, kind: Kind, namespace: str, body: Any, *, check: bool = True, dry_run: bool = False
    ) -> dict[str, Any]:
        """Store a new object; `check=False` for the controllers' own objects.

        With `dry_run`, everything but the storing: the answer is what would be stored.
        """
        obj = self._body(kind, body)
        metadata = obj.setdefault("metadata", {})
        if not metadata.get("name"):
            if not metadata.get("generateName"):
                raise self.refuse(
                    "create",
                    kind,
                    namespace,
                    "",
                    obj,
                    [("metadata.name", "Required value: name or generateName is required")],
                )
            metadata["name"] = metadata["generateName"] + meta.suffix()
        name = metadata["name"]
        if metadata.get("resourceVersion"):
            raise errors.ApiError(
                500, "InternalError", "resourceVersion should not be set on objects to be created"
            )
        if kind.namespaced:
            self._namespace_open(kind, namespace, name, metadata)
            metadata["namespace"] = namespace
        else:
            metadata.pop("namespace", None)
        for key in _SERVER_METADATA:
            metadata.pop(key, None)
        metadata["uid"] = str(uuid.uuid4())
        metadata["creationTimestamp"] = meta.now()
        if "spec" in obj:
            metadata["generation"] = 1
        if kind.has_status:
            obj.pop("status", None)
        defaulting.apply(kind.kind, obj, cluster_ip=self._cluster_ip)
        if check:
            self._validate("create", kind, obj)
        if self.store.get(kind, namespace if kind.namespaced else "", name) is not None:
            raise errors.already_exists(kind, name)
        return obj if dry_run else self.store.put(kind, obj)

    def replace(
        self,
        kind: Kind,
        namespace: str,
        name: str,
        body: Any,
        *,
        subresource: str = "",
        dry_run: bool = False,
    ) -> dict[str, Any]:
        """PUT: the whole object (or, for `status`, its status) as sent."""
        new = self._body(kind, body)
        return self.write(
            "update", kind, namespace, name, new, subresource=subresource, dry_run=dry_run
        )

    def patch(
        self,
        kind: Kind,
        namespace: str,
        name: str,
        content_type: str,
        body: Any,
        *,
        subresource: str = "",
        dry_run: bool = False,
    ) -> dict[str, Any]:
        """PATCH in one of the formats of `patches`."""
        old = self.get(kind, namespace, name)
        try:
            new = patches.apply(content_type, old, body)
        except patches.PatchError as exc:
            raise errors.ApiError(422, "Invalid", str(exc)) from None
        precondition = (
            body.get("metadata", {}).get("resourceVersion") if isinstance(body, dict) else None
        )
        new.setdefault("metadata", {})["resourceVersion"] = precondition
        return self.write(
            "patch", kind, namespace, name, new, subresource=subresource, dry_run=dry_run
        )

    def write(
        self,
        verb: str,
        kind: Kind,
        namespace: str,
        name: str,
        new: dict[str, Any],
        *,
        subresource: str = "",
        check: bool = True,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        """Store `new` over the existing object, with the update rules of the module doc."""
        old = self.get(kind, namespace, name)
        metadata = new.setdefault("metadata", {})
        asked = metadata.get("resourceVersion")
        if asked and asked != old["metadata"]["resourceVersion"]:
            raise errors.conflict(kind, name)
        if metadata.get("name", name) != name:
            raise errors.bad_request(
                f"the name of the object ({metadata['name']}) does not match the name on the "
                f"URL ({name})"
            )
        if kind.namespaced and metadata.get("namespace", namespace) != namespace:
            raise errors.bad_request(
                "the namespace of the provided object does not match "
                "the namespace sent on the request"
            )
        if subresource == "status":
            new = {**copy.deepcopy(old), "status": new.get("status", {})}
        else:
            new["kind"], new["apiVersion"] = old["kind"], old["apiVersion"]
            metadata.update(
                {k: old["metadata"][k] for k in ("name", "namespace") if k in old["metadata"]}
            )
            for key in _SERVER_METADATA:
                metadata.pop(key, None)
                if key in old["metadata"]:
                    metadata[key] = old["metadata"][key]
            if kind.has_status and "status" in old:
                new["status"] = copy.deepcopy(old["status"])
            elif kind.has_status:
                new.pop("status", None)
            self._keep_immutable(verb, kind, old, new)
            defaulting.apply(kind.kind, new, cluster_ip=self._cluster_ip)
            if kind is kinds.PODS:
                self._check_pod_update(verb, old, new)
        new["metadata"].pop("resourceVersion", None)
        if _content(new) == _content(old):
            return old
        if "generation" in old["metadata"] and _spec(new) != _spec(old):
            new["metadata"]["generation"] = old["metadata"]["generation"] + 1
        if check:
            self._validate(verb, kind, new)
        if dry_run:
            return new
        if meta.terminating(new) and not new["metadata"].get("finalizers"):
            self.store.remove(kind, namespace, name)
            return new
        return self.store.put(kind, new)

    def commit(self, kind: Kind, new: dict[str, Any]) -> dict[str, Any]:
        """Store a controller's change to an object it copied from the store, as it is.

        Unchanged objects are not written again (no event), `generation` follows the spec,
        and a terminating object whose last finalizer went is removed.
        """
        namespace, name = meta.namespace_of(new), meta.name_of(new)
        old = self.get(kind, namespace, name)
        new["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
        if new == old:
            return old
        if "generation" in old["metadata"] and _spec(new) != _spec(old):
            new["metadata"]["generation"] = old["metadata"]["generation"] + 1
        if meta.terminating(new) and not new["metadata"].get("finalizers"):
            self.store.remove(kind, namespace, name)
            return new
        return self.store.put(kind, new)

    # Helpers

    def _body(self, kind: Kind, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise errors.bad_request("the body must be a JSON object")
        obj = copy.deepcopy(body)
        if obj.setdefault("kind", kind.kind) != kind.kind:
            raise errors.bad_request(f"the body is a {obj['kind']}, not a {kind.kind}")
        if obj.setdefault("apiVersion", kind.api_version) != kind.api_version:
            raise errors.bad_request(f"apiVersion {obj['apiVersion']} is not {kind.api_version}")
        return obj

    def _namespace_open(
        self, kind: Kind, namespace: str, name: str, metadata: dict[str, Any]
    ) -> None:
        if metadata.get("namespace", namespace) != namespace:
            raise errors.bad_request(
                "the namespace of the provided object does not match the "
                "namespace sent on the request"
            )
        space = self.store.get(kinds.NAMESPACES, "", namespace)
        if space is None:
            raise errors.not_found(kinds.NAMESPACES, namespace)
        if meta.terminating(space):
            raise errors.forbidden(
                f'{kind.resource} "{name}" is forbidden: unable to create new content in '
                f"namespace {namespace} because it is being terminated",
                {
                    "name": name,
                    "kind": kind.plural,
                    "causes": [
                        {
                            "reason": "NamespaceTerminating",
                            "field": "metadata.namespace",
                            "message": f"namespace {namespace} is being terminated",
                        }
                    ],
                },
            )

    def _keep_immutable(
        self, verb: str, kind: Kind, old: dict[str, Any], new: dict[str, Any]
    ) -> None:
        for path in kind.immutable:
            *parents, leaf = path.split(".")
            old_parent, new_parent = old, new
            for part in parents:
                old_parent = old_parent.get(part, {})
                new_parent = new_parent.setdefault(part, {})
            if leaf not in old_parent:
                continue
            if leaf not in new_parent:
                new_parent[leaf] = copy.deepcopy(old_parent[leaf])
            elif new_parent[leaf] != old_parent[leaf]:
                raise self.refuse(
                    verb,
                    kind,
                    meta.namespace_of(old),
                    meta.name_of(old),
                    new,
                    [(path, "field is immutable")],
                )

    def _check_pod_update(self, verb: str, old: dict[str, Any], new: dict[str, Any]) -> None:
        """Of a pod's spec only images and a few fields may change, as in Kubernetes."""

        def fixed(spec: dict[str, Any]) -> dict[str, Any]:
            spec = copy.deepcopy(spec)
            for container in spec.get("containers", []) + spec.get("initContainers", []):
                container.pop("image", None)
            for key in ("activeDeadlineSeconds", "tolerations", "terminationGracePeriodSeconds"):
                spec.pop(key, None)
            return spec

        if fixed(old["spec"]) != fixed(new["spec"]):
            message = (
                "Forbidden: pod updates may not change fields other than "
                "`spec.containers[*].image`, `spec.initContainers[*].image`, "
                "`spec.activeDeadlineSeconds`, `spec.tolerations` (only additions to existing "
                "tolerations) or `spec.terminationGracePeriodSeconds`"
            )
            name = meta.name_of(old)
            raise self.refuse(verb, kinds.PODS, meta.namespace_of(old), name, new,
                              [("spec", message)])  # fmt: skip

    def _validate(self, verb: str, kind: Kind, obj: dict[str, Any]) -> None:
        found = validation.problems(obj, self._versions)
        if found:
            raise self.refuse(
                verb,
                kind,
                meta.namespace_of(obj),
                meta.name_of(obj),
                obj,
                [("", problem) for problem in found],
            )

    def refuse(
        self,
        verb: str,
        kind: Kind,
        namespace: str,
        name: str,
        obj: dict[str, Any],
        problems: list[tuple[str, str]],
    ) -> errors.ApiError:
        """Report an invalid object and return the 422 to raise."""
        self._on_invalid(
            Invalid(
                verb,
                kind.kind,
                namespace,
                name,
                tuple(f"{f}: {m}" if f else m for f, m in problems),
                obj,
            )
        )
        return errors.invalid(kind, name, problems)

    def _cluster_ip(self) -> str:
        self._next_ip += 1
        return f"10.96.{self._next_ip // 250}.{self._next_ip % 250 + 1}"


def _content(obj: dict[str, Any]) -> dict[str, Any]:
    return {**obj, "metadata": {k: v for k, v in obj["metadata"].items() if k != "resourceVersion"}}


def _spec(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k not in ("metadata", "status")}
