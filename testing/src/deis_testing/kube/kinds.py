"""The kinds the emulator serves: one table, one line per kind.

Each entry says where the kind lives in the API (group, version, plural), whether it is
namespaced, which subresources it has, and which fields may not change once set. Discovery,
routing, list kinds and error messages are all derived from this table, so serving another
kind is one more line here (plus, if the kind needs server-side defaults, a function in
`defaulting`).
"""

from dataclasses import dataclass

VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class Kind:
    """One resource of the API, e.g. `apps/v1` `deployments`."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    subresources: tuple[str, ...] = ()
    short_names: tuple[str, ...] = ()
    immutable: tuple[str, ...] = ()
    """Dotted paths that keep their first value: omitted on update means unchanged."""

    @property
    def api_version(self) -> str:
        """`v1` for the core group, `<group>/<version>` otherwise."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def resource(self) -> str:
        """The name Kubernetes uses in messages: `pods`, `deployments.apps`."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def list_kind(self) -> str:
        """The kind of a list of these objects, e.g. `PodList`."""
        return f"{self.kind}List"

    @property
    def has_status(self) -> bool:
        """Whether `status` is written only through the `/status` subresource."""
        return "status" in self.subresources


# fmt: off
KINDS: tuple[Kind, ...] = (
    Kind("", "v1", "namespaces", "Namespace", False, ("status",), ("ns",)),
    Kind("", "v1", "nodes", "Node", False, ("status",), ("no",)),
    Kind("", "v1", "pods", "Pod", True, ("status", "log"), ("po",)),
    Kind("", "v1", "services", "Service", True, ("status",), ("svc",), ("spec.clusterIP",)),
    Kind("", "v1", "secrets", "Secret", True),
    Kind("", "v1", "configmaps", "ConfigMap", True, (), ("cm",)),
    Kind("", "v1", "serviceaccounts", "ServiceAccount", True, (), ("sa",)),
    Kind("", "v1", "events", "Event", True, (), ("ev",)),
    Kind("apps", "v1", "deployments", "Deployment", True, ("status", "scale"), ("deploy",),
         ("spec.selector",)),
    Kind("apps", "v1", "replicasets", "ReplicaSet", True, ("status", "scale"), ("rs",),
         ("spec.selector",)),
    Kind("autoscaling", "v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler", True,
         ("status",), ("hpa",)),
    Kind("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", True, (), ("netpol",)),
    Kind("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", True, ("status",),
         ("pdb",)),
)
# fmt: on

BY_PATH: dict[tuple[str, str, str], Kind] = {(k.group, k.version, k.plural): k for k in KINDS}
BY_KIND: dict[str, Kind] = {k.kind: k for k in KINDS}

NAMESPACES = BY_KIND["Namespace"]
NODES = BY_KIND["Node"]
PODS = BY_KIND["Pod"]
SERVICE_ACCOUNTS = BY_KIND["ServiceAccount"]
DEPLOYMENTS = BY_KIND["Deployment"]
REPLICA_SETS = BY_KIND["ReplicaSet"]


def lookup(plural: str) -> Kind:
    """The kind served under `plural` (`pods`) or `plural.group` (`deployments.apps`).

    Raises:
        KeyError: no such kind in the table.
    """
    for kind in KINDS:
        if plural in (kind.plural, kind.resource):
            return kind
    raise KeyError(plural)


def groups() -> dict[str, list[str]]:
    """Each non-core group with its versions, in table order."""
    found: dict[str, list[str]] = {}
    for kind in KINDS:
        if kind.group and kind.version not in found.setdefault(kind.group, []):
            found[kind.group].append(kind.version)
    return found
