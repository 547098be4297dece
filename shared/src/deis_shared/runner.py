"""The service runner: the one owner of every client a service uses.

`ServiceRunner` is an async context manager that opens, in order,

    settings → asyncpg pool (+ migrations) → NATS (+ streams and KV buckets) → object store
    → health endpoints → background tasks (outbox relay, the service's own)

and closes them in reverse. Reverse order is deliberate: background tasks stop first, while
the connections they need to finish in-flight work (ack a message, mark an outbox row sent)
are still open; NATS is drained before the pool closes. Each step of the shutdown gets what is
left of `shutdown_timeout`, so the whole close fits below a container's grace period.

`run()` is the synchronous entry point of every service's `main()`: it configures logging,
enters the runner, lets the service start its work, waits for SIGTERM/SIGINT or a dead eternal
task, and exits 0 on a clean stop, 1 on a failure. A last-resort timer ends the process if the
shutdown itself hangs.
"""

import asyncio
import contextlib
import logging
import os
import signal
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from types import TracebackType

import asyncpg

from deis_shared import errors
from deis_shared.bus import connection as bus_connection, topology
from deis_shared.db import migrations as db_migrations, pool as db_pool
from deis_shared.health import Health, HealthServer
from deis_shared.logconfig import configure_logging
from deis_shared.objectstore import opening as store_opening
from deis_shared.objectstore.base import ObjectStore
from deis_shared.outbox import dead as outbox_dead, relay as outbox_relay, schema as outbox_schema
from deis_shared.settings import ServiceSettings
from deis_shared.tasks import Supervisor

logger = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_HUNG = 70


@dataclass(frozen=True)
class MigrationSet:
    """Migrations of one component (the service's own, or the outbox's) for the service's schema."""

    component: str
    migrations: Sequence[db_migrations.Migration]


@dataclass
class Service:
    """What a running service holds: opened by the runner, handed to the service's code."""

    settings: ServiceSettings
    health: Health
    tasks: Supervisor
    pool: asyncpg.Pool | None = None
    bus: bus_connection.Bus | None = None
    store: ObjectStore | None = None
    _stop_accepting: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    def on_stop(self, callback: Callable[[], Awaitable[None]]) -> None:
        """Run `callback` first at shutdown: stop accepting HTTP, SSH or new subscriptions."""
        self._stop_accepting.append(callback)


STARTUP_RETRY_MAX = 5.0
"""Longest wait between two attempts to open a service's servers at start."""


class ServiceRunner:
    """Opens a service's resources in order and closes them in reverse within a deadline."""

    def __init__(
        self,
        settings: ServiceSettings,
        *,
        schema: str | None = None,
        migrations: Sequence[MigrationSet] = (),
        outbox: bool = False,
        on_outbox_dead: outbox_dead.DeadHook | None = None,
        nats: bool = True,
    ) -> None:
        """Describe what the service needs.

        Args:
            settings: the service's settings, built once in `main()`.
            schema: the service's Postgres schema; None for a service without tables.
            migrations: the service's own migrations, applied at start-up under a lock.
            outbox: whether the service writes an outbox: its migrations are applied and a
                relay runs as an eternal task.
            on_outbox_dead: awaited by the relay for each outbox row it sets aside as dead,
                in the transaction that marks the row (e.g. to tell the app's log).
            nats: whether to connect to NATS and ensure the streams and buckets.
        """
        if (migrations or outbox) and schema is None:
            raise ValueError("migrations and the outbox need a schema")
        self.settings = settings
        self.schema = schema
        self.migrations = list(migrations)
        if outbox:
            self.migrations.append(
                MigrationSet(outbox_schema.COMPONENT, outbox_schema.OUTBOX_MIGRATIONS)
            )
        self.outbox = outbox
        self.on_outbox_dead = on_outbox_dead
        self.nats = nats
        self.service: Service | None = None
        self.health_server: HealthServer | None = None
        self._stack = contextlib.AsyncExitStack()
        self._deadline = 0.0

    def _remaining(self) -> float:
        return max(0.1, self._deadline - time.monotonic())

    async def __aenter__(self) -> Service:
        settings = self.settings
        deadline = time.monotonic() + settings.startup_wait
        attempt = 0
        while True:
            health = Health(service=settings.service_name)
            service = Service(settings=settings, health=health, tasks=Supervisor())
            try:
                await self._open(service)
                break
            except errors.TransientError as exc:  # a server not there yet, or restarting
                await self.close()
                self._stack = contextlib.AsyncExitStack()
                attempt += 1
                delay = min(STARTUP_RETRY_MAX, 0.5 * 2 ** (attempt - 1))
                if time.monotonic() + delay > deadline:
                    raise
                logger.warning(
                    "cannot start yet: %s; trying again in %.1f s",
                    exc,
                    delay,
                    extra={"service": settings.service_name},
                )
                await asyncio.sleep(delay)
            except BaseException:
                await self.close()
                raise
        self.service = service
        health.ready = True
        logger.info("service started", extra={"service": settings.service_name})
        return service

    async def _open(self, service: Service) -> None:
        settings = self.settings
        if self.schema is not None:
            if settings.database_url is None:
                raise ValueError("DEIS_DATABASE_URL is required by this service")
            service.pool = await db_pool.create_pool(
                dsn=settings.database_url,
                schema=self.schema,
                min_size=settings.db_pool_min_size,
                max_size=settings.db_pool_max_size,
            )
            self._stack.push_async_callback(self._close_pool, service.pool)
            for migration_set in self.migrations:
                await db_migrations.migrate(
                    service.pool,
                    schema=self.schema,
                    component=migration_set.component,
                    migrations=migration_set.migrations,
                )
        if self.nats:
            service.bus = await bus_connection.connect(
                url=settings.nats_url,
                name=settings.service_name,
                connect_timeout=settings.nats_connect_timeout,
            )
            self._stack.push_async_callback(self._drain_bus, service.bus)
            await topology.ensure_topology(service.bus.js, replicas=settings.jetstream_replicas)
            bus = service.bus
            service.health.add_check(name="nats", check=lambda: _connected(bus))
        if settings.object_store != "none":
            service.store = await self._stack.enter_async_context(
                store_opening.open_store_from_settings(settings)
            )
        if settings.health_port is not None:
            self.health_server = HealthServer(
                health=service.health, host=settings.health_host, port=settings.health_port
            )
            await self.health_server.start()
            self._stack.push_async_callback(self.health_server.close)
        self._stack.push_async_callback(self._stop_tasks, service.tasks)
        if self.outbox and service.pool is not None and service.bus is not None:
            relay = outbox_relay.OutboxRelay(
                pool=service.pool,
                js=service.bus.js,
                schema=self.schema or "",
                max_attempts=settings.outbox_max_attempts,
                on_dead=self.on_outbox_dead,
                registry=service.health.registry,
            )
            service.tasks.spawn(relay.run(), name="outbox-relay")
            # The relay closes gracefully (finishing its round rather than being cancelled in
            # a query) after the supervisor is told the shutdown began, so its task ending is
            # not taken for a failure.
            self._stack.push_async_callback(relay.close)
        self._stack.callback(service.tasks.quiesce)
        self._stack.push_async_callback(self._stop_accepting, service)

    async def _stop_accepting(self, service: Service) -> None:
        service.health.ready = False
        for callback in service._stop_accepting:
            await asyncio.wait_for(callback(), timeout=self._remaining())

    async def _stop_tasks(self, tasks: Supervisor) -> None:
        await tasks.stop(grace=self._remaining())

    async def _drain_bus(self, bus: bus_connection.Bus) -> None:
        try:
            await asyncio.wait_for(bus.drain(), timeout=self._remaining())
        except TimeoutError:
            logger.warning("NATS drain timed out; closing")
        await bus.close()

    async def _close_pool(self, pool: asyncpg.Pool) -> None:
        await db_pool.close_pool(pool, grace=self._remaining())

    async def close(self) -> None:
        """Close everything opened, in reverse order, within `shutdown_timeout`; idempotent."""
        self._deadline = time.monotonic() + self.settings.shutdown_timeout - 1.0
        await self._stack.aclose()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
        logger.info("service stopped", extra={"service": self.settings.service_name})


async def _connected(bus: bus_connection.Bus) -> bool:
    return bus.state is bus_connection.BusState.CONNECTED and bus.nc.is_connected


async def serve(runner: ServiceRunner, start: Callable[[Service], Awaitable[None]]) -> int:
    """Run a service until SIGTERM/SIGINT or a dead eternal task; return the exit code.

    Args:
        runner: the runner holding the service's settings and needs.
        start: the service's own start-up: spawn its tasks, start listening. It returns once
            started; the work goes on in tasks.

    Returns:
        EXIT_OK after a signal, EXIT_FAILED when an eternal task ended on its own.
    """
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with runner as service:
            await start(service)
            stopped = asyncio.create_task(stop.wait(), name="wait-for-signal")
            failed = asyncio.create_task(service.tasks.failed.wait(), name="wait-for-failure")
            await asyncio.wait({stopped, failed}, return_when=asyncio.FIRST_COMPLETED)
            for waiter in (stopped, failed):
                waiter.cancel()
            await asyncio.gather(stopped, failed, return_exceptions=True)
            _arm_last_resort_timer(runner.settings.shutdown_timeout)
            if service.tasks.failed.is_set():
                logger.critical("stopping after failure: %s", service.tasks.failure)
                return EXIT_FAILED
            logger.info("stopping on signal")
            return EXIT_OK
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)


def _arm_last_resort_timer(seconds: float) -> None:
    def expire() -> None:
        logger.critical("shutdown did not finish in %.0f s; exiting", seconds)
        os._exit(EXIT_HUNG)

    timer = threading.Timer(seconds, expire)
    timer.daemon = True
    timer.start()


def run(runner: ServiceRunner, start: Callable[[Service], Awaitable[None]]) -> int:
    """The body of a service's `main()`: configure logging, serve, return the exit code."""
    settings = runner.settings
    configure_logging(
        service=settings.service_name, level=settings.log_level, json_lines=settings.log_json
    )
    return asyncio.run(serve(runner, start))
