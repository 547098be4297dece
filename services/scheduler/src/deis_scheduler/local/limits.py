"""Deis's resource limits, as this host can apply them.

Memory (`512M`, `1G`, `0/100MB` = request/limit) becomes a cap on each process's data memory
(`RLIMIT_DATA`, which on Linux counts the heap and private mappings, so it bounds what a
process can allocate without refusing the large virtual reservations that Node or a JVM make).
Units are binary (`M` = MiB), as Deis passed them to Kubernetes. CPU limits are a CFS quota in a
control group of the process's own (`local.cgroups`), where the host lets the scheduler make
one; elsewhere they are not applied, and `procs` shows none.
"""

from deis_shared import limits


def memory_bytes(spec: str | None) -> int | None:
    """The byte limit of a Deis memory spec; `None` for no limit (unset, or a limit of 0).

    The rules are `deis_shared.limits`', which the controller applies.

    Raises:
        InvalidLimit: `spec` is not a memory limit (a `ValueError`).
    """
    return None if spec is None else limits.parse_memory(spec).limit
