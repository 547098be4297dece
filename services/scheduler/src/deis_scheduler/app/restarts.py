"""`deis ps:restart` as the desired state carries it: a counter per target, raised per request.

Every backend remembers the counters it last acted on; a target whose counter rose since is
due. A backend that knows no counters yet (a fresh scheduler with nothing recorded) only takes
note: requests made before it looked are not replayed.
"""

from deis_shared.kv import desired as desired_kv


def due(
    seen: dict[str, int] | None, desired: desired_kv.DesiredState
) -> tuple[list[str], dict[str, int]]:
    """The targets (`*`, a type, a process name) to restart now, and the counters to keep."""
    now = dict(desired.restarts)
    if seen is None:
        return [], now
    return [target for target, count in now.items() if count > seen.get(target, 0)], now
