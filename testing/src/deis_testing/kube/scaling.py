"""The `scale` subresource of Deployments and ReplicaSets: an `autoscaling/v1` Scale."""

import copy
from typing import Any

from deis_testing.kube import errors, patches, selectors
from deis_testing.kube.apiserver import ApiServer
from deis_testing.kube.kinds import Kind


def scale(api: ApiServer, kind: Kind, namespace: str, name: str) -> dict[str, Any]:
    """The `autoscaling/v1` Scale of a Deployment or ReplicaSet."""
    obj = api.get(kind, namespace, name)
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            k: obj["metadata"][k]
            for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
        },
        "spec": {"replicas": obj["spec"].get("replicas", 0)},
        "status": {
            "replicas": obj.get("status", {}).get("replicas", 0),
            "selector": selectors.to_string(obj["spec"].get("selector") or {}),
        },
    }


def write_scale(
    api: ApiServer, kind: Kind, namespace: str, name: str, content_type: str, body: Any
) -> dict[str, Any]:
    """PUT or PATCH of a Scale: sets `spec.replicas`."""
    current = scale(api, kind, namespace, name)
    if content_type == "application/json":
        wanted = body if isinstance(body, dict) else {}
    else:
        try:
            wanted = patches.apply(content_type, current, body)
        except patches.PatchError as exc:
            raise errors.ApiError(422, "Invalid", str(exc)) from None
    replicas = wanted.get("spec", {}).get("replicas")
    if not isinstance(replicas, int) or replicas < 0:
        raise api.refuse(
            "update",
            kind,
            namespace,
            name,
            wanted,
            [("spec.replicas", f"Invalid value: {replicas!r}")],
        )
    obj = copy.deepcopy(api.get(kind, namespace, name))
    obj["metadata"]["resourceVersion"] = wanted.get("metadata", {}).get("resourceVersion")
    obj["spec"]["replicas"] = replicas
    api.write("update", kind, namespace, name, obj)
    return scale(api, kind, namespace, name)
