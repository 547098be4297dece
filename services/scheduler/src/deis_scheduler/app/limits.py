"""Deis's resource limits, as this host can apply them.

Memory (`512M`, `1G`, `0/100MB` = request/limit) becomes a cap on each process's data memory
(`RLIMIT_DATA`, which on Linux counts the heap and private mappings, so it bounds what a
process can allocate without refusing the large virtual reservations that Node or a JVM make).
Units are binary (`M` = MiB), as Deis passed them to Kubernetes. CPU limits are a CFS quota in a
control group of the process's own (`local.cgroups`), where the host lets the scheduler make
one; elsewhere they are not applied, and `procs` shows none.
"""

import re

_MEMORY = re.compile(r"(?i)^(?P<number>[0-9]+)(?P<unit>B|K|KB|M|MB|G|GB)?$")
_UNITS = {"": 1, "B": 1, "K": 1 << 10, "KB": 1 << 10, "M": 1 << 20, "MB": 1 << 20}
_UNITS |= {"G": 1 << 30, "GB": 1 << 30}


def memory_bytes(spec: str | None) -> int | None:
    """The byte limit of a Deis memory spec; `None` for no limit (unset, or a limit of 0).

    Raises:
        ValueError: `spec` is not a memory limit (the controller validates them first).
    """
    if spec is None:
        return None
    limit = spec.rsplit("/", 1)[-1]
    match = _MEMORY.fullmatch(limit.strip())
    if match is None:
        raise ValueError(f"invalid memory limit {spec!r}")
    value = int(match["number"]) * _UNITS[(match["unit"] or "").upper()]
    return value or None
