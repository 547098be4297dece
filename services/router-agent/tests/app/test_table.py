# mypy: allow-untyped-defs, allow-untyped-calls, allow-incomplete-defs
"""The routing table counts real changes only, so watch replays cost no reload."""

from deis_router_agent.app.table import RoutingTable
from deis_shared.kv import endpoints as endpoints_kv


def endpoints(port):
    upstream = endpoints_kv.Upstream(host="127.0.0.1", port=port)
    return endpoints_kv.Endpoints(app="web", version=1, upstreams=[upstream])


def test_replayed_values_are_not_changes_and_take_empties_the_set():
    table = RoutingTable()
    table.put_endpoints("web", endpoints(5000))
    batch = table.take()
    assert batch.apps == {"web"}
    assert table.first_change is None and not table.changed.is_set()

    table.put_endpoints("web", endpoints(5000))  # same value, new id and time
    assert table.take().apps == frozenset()
    table.put_endpoints("web", endpoints(5001))
    table.put_endpoints("web", None)
    table.put_routes("other", None)  # deleting what was never there changes nothing
    assert table.take().apps == {"web"}
    assert "web" not in table.endpoints
