"""Helpers on object metadata and status shared by the API semantics and the controllers."""

import datetime
import secrets
from typing import Any

_SAFE = "bcdfghjklmnpqrstvwxz2456789"
"""The alphabet Kubernetes uses for generated names: no vowels, no look-alike digits."""


def now() -> str:
    """The current time as the API writes it: RFC 3339, seconds, UTC."""
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def suffix(length: int = 5) -> str:
    """A random name suffix, as for `generateName` and pod names."""
    return "".join(secrets.choice(_SAFE) for _ in range(length))


def encode(number: int, length: int = 10) -> str:
    """`number` in the safe alphabet, `length` characters long (for template hashes)."""
    chars = []
    for _ in range(length):
        number, digit = divmod(number, len(_SAFE))
        chars.append(_SAFE[digit])
    return "".join(chars)


def namespace_of(obj: dict[str, Any]) -> str:
    """The object's namespace, `""` for cluster-scoped objects."""
    namespace: str = obj["metadata"].get("namespace", "")
    return namespace


def name_of(obj: dict[str, Any]) -> str:
    """The object's name."""
    name: str = obj["metadata"]["name"]
    return name


def uid_of(obj: dict[str, Any]) -> str:
    """The object's uid."""
    uid: str = obj["metadata"]["uid"]
    return uid


def labels_of(obj: dict[str, Any] | None) -> dict[str, str]:
    """The object's labels, empty when it has none (or there is no object)."""
    if obj is None:
        return {}
    labels: dict[str, str] = obj.get("metadata", {}).get("labels") or {}
    return labels


def owner_reference(owner: dict[str, Any], *, controller: bool = True) -> dict[str, Any]:
    """A reference from a dependent to `owner`, as controllers set it."""
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": controller,
        "blockOwnerDeletion": True,
    }


def controller_of(obj: dict[str, Any]) -> dict[str, Any] | None:
    """The owner reference marked `controller`, if any."""
    for reference in obj["metadata"].get("ownerReferences") or []:
        if reference.get("controller"):
            found: dict[str, Any] = reference
            return found
    return None


def terminating(obj: dict[str, Any]) -> bool:
    """Whether the object has been asked to go."""
    return bool(obj["metadata"].get("deletionTimestamp"))


def condition(obj: dict[str, Any], kind: str) -> dict[str, Any] | None:
    """The status condition of type `kind`, if present."""
    for found in obj.get("status", {}).get("conditions") or []:
        if found.get("type") == kind:
            result: dict[str, Any] = found
            return result
    return None


def set_condition(
    status: dict[str, Any],
    kind: str,
    value: str,
    *,
    reason: str = "",
    message: str = "",
    pod: bool = False,
    progressed: bool = False,
) -> None:
    """Set condition `kind` in `status`; unchanged conditions keep their times.

    Pods' conditions carry `lastProbeTime` (null, as the kubelet writes it); workloads' carry
    `lastUpdateTime`, refreshed when the condition changes or on `progressed`.
    """
    conditions: list[dict[str, Any]] = status.setdefault("conditions", [])
    old = next((c for c in conditions if c.get("type") == kind), None)
    flipped = old is None or old.get("status") != value
    changed = flipped or old is None or (old.get("reason"), old.get("message")) != (reason, message)
    entry: dict[str, Any] = {"type": kind, "status": value}
    if pod:
        entry["lastProbeTime"] = None
    else:
        entry["lastUpdateTime"] = (
            now() if changed or progressed or old is None else old.get("lastUpdateTime", now())
        )
    entry["lastTransitionTime"] = now() if flipped or old is None else old["lastTransitionTime"]
    if reason:
        entry["reason"] = reason
    if message:
        entry["message"] = message
    if old is None:
        conditions.append(entry)
    else:
        conditions[conditions.index(old)] = entry
