"""Discovery documents: `/api`, `/api/v1`, `/apis`, `/apis/<group>`, `/apis/<g>/<v>`, `/version`.

Built from the table in `kinds`, in the shapes the API server answers (`APIVersions`,
`APIGroupList`, `APIGroup`, `APIResourceList`), so clients that discover before they call
(kubectl, dynamic clients) find every kind the emulator serves.
"""

from typing import Any

from deis_testing.kube import kinds

SERVER_VERSION = {
    "major": "1",
    "minor": "37",
    "gitVersion": "v1.37.0-emulated",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2026-01-01T00:00:00Z",
    "goVersion": "go1.25.0",
    "compiler": "gc",
    "platform": "linux/amd64",
}


def core_versions() -> dict[str, Any]:
    """`/api`."""
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": ""}],
    }


def group_list() -> dict[str, Any]:
    """`/apis`."""
    return {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [group(name) for name in kinds.groups()],
    }


def group(name: str) -> dict[str, Any] | None:
    """`/apis/<group>`, or None for a group the emulator does not serve."""
    versions = kinds.groups().get(name)
    if versions is None:
        return None
    listed = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {
        "kind": "APIGroup",
        "apiVersion": "v1",
        "name": name,
        "versions": listed,
        "preferredVersion": listed[0],
    }


def resources(group: str, version: str) -> dict[str, Any] | None:
    """`/api/v1` or `/apis/<group>/<version>`, or None when nothing is served there."""
    served = [k for k in kinds.KINDS if (k.group, k.version) == (group, version)]
    if not served:
        return None
    listed: list[dict[str, Any]] = []
    for kind in served:
        listed.append(
            {
                "name": kind.plural,
                "singularName": kind.kind.lower(),
                "namespaced": kind.namespaced,
                "kind": kind.kind,
                "verbs": list(kinds.VERBS),
                **({"shortNames": list(kind.short_names)} if kind.short_names else {}),
            }
        )
        for sub in kind.subresources:
            sub_kind = {"scale": "Scale", "log": "Pod"}.get(sub, kind.kind)
            verbs = ["get"] if sub == "log" else ["get", "patch", "update"]
            entry = {
                "name": f"{kind.plural}/{sub}",
                "singularName": "",
                "namespaced": kind.namespaced,
                "kind": sub_kind,
                "verbs": verbs,
            }
            if sub == "scale":
                entry.update(group="autoscaling", version="v1")
            listed.append(entry)
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/{version}" if group else version,
        "resources": listed,
    }
