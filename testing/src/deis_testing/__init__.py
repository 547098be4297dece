"""Real servers for tests: PostgreSQL, nats-server with JetStream, moto's S3, our services.

Our own services run as processes (`ServiceProcess`), the others as in the session fixtures.

The pytest plugin (`deis_testing.plugin`) turns these into fixtures. The classes are usable on
their own, for benchmarks that need the same servers outside pytest.
"""

from deis_testing import fileserver
from deis_testing.dirs import traversable
from deis_testing.naming import unique_name
from deis_testing.nats import NatsServer
from deis_testing.ports import free_port
from deis_testing.postgres import PostgresServer
from deis_testing.processes import ServiceProcess, app_pids, controller_process
from deis_testing.s3 import S3Server

__all__ = [
    "NatsServer",
    "PostgresServer",
    "S3Server",
    "ServiceProcess",
    "app_pids",
    "controller_process",
    "fileserver",
    "free_port",
    "traversable",
    "unique_name",
]
