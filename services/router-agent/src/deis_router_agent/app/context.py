"""What the router's use cases share: settings, rendering options, the nginx pieces, NATS."""

from dataclasses import dataclass

from deis_router_agent.domain.options import Options
from deis_router_agent.nginx.layout import Layout
from deis_router_agent.nginx.master import NginxMaster
from deis_router_agent.settings import RouterSettings
from deis_shared.bus import connection


@dataclass(frozen=True)
class Context:
    """The router agent's settings and clients, handed to every use case."""

    settings: RouterSettings
    options: Options
    layout: Layout
    master: NginxMaster
    binary: str
    """The nginx executable, for `nginx -t`."""
    js: connection.JetStream
