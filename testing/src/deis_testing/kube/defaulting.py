"""Server-side defaults, applied to every object written, as the API server does.

A real API server fills in fields a client left out (a Deployment's strategy, a container's
`imagePullPolicy`, a Service's `clusterIP`) and turns a Secret's `stringData` into `data`.
The emulator fills in the common ones, so a client that compares what it wants with what it
reads back meets the same extra fields it would meet on a cluster. The defaults are
idempotent: applying them to a defaulted object changes nothing.
"""

import base64
from collections.abc import Callable
from typing import Any

Allocator = Callable[[], str]


def apply(kind: str, obj: dict[str, Any], *, cluster_ip: Allocator) -> None:
    """Fill in defaults on `obj` (a whole object of `kind`) in place.

    `cluster_ip` hands out the next free service address, when a Service needs one.
    """
    if kind == "Service":
        _service(obj, cluster_ip)
        return
    defaulter = _BY_KIND.get(kind)
    if defaulter is not None:
        defaulter(obj)


def _namespace(obj: dict[str, Any]) -> None:
    labels = obj["metadata"].setdefault("labels", {})
    labels["kubernetes.io/metadata.name"] = obj["metadata"]["name"]
    obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
    obj.setdefault("status", {}).setdefault("phase", "Active")


def pod_spec(spec: dict[str, Any]) -> None:
    """Defaults of a pod spec, in a Pod or in a template."""
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("securityContext", {})
    for container in spec.get("containers", []) + spec.get("initContainers", []):
        image = container.get("image", "")
        tagged = ":" in image.rsplit("/", 1)[-1] and not image.endswith(":latest")
        container.setdefault("imagePullPolicy", "IfNotPresent" if tagged else "Always")
        container.setdefault("terminationMessagePath", "/dev/termination-log")
        container.setdefault("terminationMessagePolicy", "File")
        container.setdefault("resources", {})
        for port in container.get("ports", []):
            port.setdefault("protocol", "TCP")
        for name in ("readinessProbe", "livenessProbe", "startupProbe"):
            if name in container:
                _probe(container[name])


def _probe(probe: dict[str, Any]) -> None:
    probe.setdefault("timeoutSeconds", 1)
    probe.setdefault("periodSeconds", 10)
    probe.setdefault("successThreshold", 1)
    probe.setdefault("failureThreshold", 3)
    if "httpGet" in probe:
        probe["httpGet"].setdefault("scheme", "HTTP")


def _template(obj: dict[str, Any]) -> None:
    template = obj.setdefault("spec", {}).setdefault("template", {})
    pod_spec(template.setdefault("spec", {}))


def _pod(obj: dict[str, Any]) -> None:
    pod_spec(obj.setdefault("spec", {}))
    obj.setdefault("status", {}).setdefault("phase", "Pending")


def _deployment(obj: dict[str, Any]) -> None:
    _template(obj)
    spec = obj["spec"]
    spec.setdefault("replicas", 1)
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    strategy = spec.setdefault("strategy", {})
    strategy.setdefault("type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        rolling = strategy.setdefault("rollingUpdate", {})
        rolling.setdefault("maxSurge", "25%")
        rolling.setdefault("maxUnavailable", "25%")


def _replica_set(obj: dict[str, Any]) -> None:
    _template(obj)
    obj["spec"].setdefault("replicas", 1)


def _service(obj: dict[str, Any], cluster_ip: Allocator) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    for port in spec.get("ports", []):
        port.setdefault("protocol", "TCP")
        port.setdefault("targetPort", port.get("port"))
    if spec["type"] != "ExternalName":
        if "clusterIP" not in spec:
            spec["clusterIP"] = cluster_ip()
        spec.setdefault("clusterIPs", [spec["clusterIP"]])
        if spec["clusterIP"] != "None":
            spec.setdefault("ipFamilies", ["IPv4"])
            spec.setdefault("ipFamilyPolicy", "SingleStack")
        spec.setdefault("internalTrafficPolicy", "Cluster")
    obj.setdefault("status", {}).setdefault("loadBalancer", {})


def _secret(obj: dict[str, Any]) -> None:
    obj.setdefault("type", "Opaque")
    string_data = obj.pop("stringData", None) or {}
    data = obj.setdefault("data", {}) if string_data else obj.get("data")
    for key, value in string_data.items():
        assert data is not None
        data[key] = base64.b64encode(value.encode()).decode()


def _network_policy(obj: dict[str, Any]) -> None:
    spec = obj.setdefault("spec", {})
    if "policyTypes" not in spec:
        spec["policyTypes"] = ["Ingress"] + (["Egress"] if spec.get("egress") else [])
    for rule in spec.get("ingress", []) + spec.get("egress", []):
        for port in rule.get("ports", []):
            port.setdefault("protocol", "TCP")


def _autoscaler(obj: dict[str, Any]) -> None:
    obj.setdefault("spec", {}).setdefault("minReplicas", 1)


_BY_KIND: dict[str, Callable[[dict[str, Any]], None]] = {
    "Namespace": _namespace,
    "Pod": _pod,
    "Deployment": _deployment,
    "ReplicaSet": _replica_set,
    "Secret": _secret,
    "NetworkPolicy": _network_policy,
    "HorizontalPodAutoscaler": _autoscaler,
}
