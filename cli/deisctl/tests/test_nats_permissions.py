"""The embedded nats-server's users, as `embedded.nats_command` configures them, on a real server.

Each service connects as its own user and does what its code does, through the same
`deis_shared.bus` helpers: what it needs works, with no permissions violation on any client.
What belongs to another service is refused: nats-server answers a publish or a subscription
outside the user's permissions with `-ERR 'Permissions Violation ...'`, which nats-py hands to
the error callback, and does not deliver or store the message.
"""

import asyncio
import secrets
import subprocess
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import nats
import nats.aio.client
import nats.errors
import nats.js
import nats.js.api
import nats.js.errors
import pytest
from nats.aio.msg import Msg

from deis_shared.bus import (
    connection,
    consuming,
    errors as bus_errors,
    logreading,
    metricsreading,
    permissions,
    publishing,
    requesting,
    topology,
    watching,
)
from deis_shared.events import (
    build as build_events,
    deploy as deploy_events,
    logs,
    metrics as metrics_events,
    release as release_events,
    router as router_events,
)
from deis_shared.kv import (
    desired as desired_kv,
    endpoints as endpoints_kv,
    procs as procs_kv,
    routes as routes_kv,
)
from deis_shared.rpc import (
    controller as controller_rpc,
    logger as logger_rpc,
    scheduler as scheduler_rpc,
)
from deis_testing.naming import unique_name
from deis_testing.ports import free_port, wait_for_port
from deisctl import embedded
from deisctl.errors import CtlError
from deisctl.layout import SERVICES

pytestmark = pytest.mark.integration

VIOLATION = "permissions violation"
"""How nats-py hands on the server's refusal (it lower-cases the message)."""


@dataclass
class Server:
    """A nats-server running with the configuration `deisctl up` writes."""

    port: int
    passwords: dict[str, str]
    process: subprocess.Popen[bytes]

    def url(self, user: str, password: str | None = None) -> str:
        secret = self.passwords[user] if password is None else password
        return f"nats://{user}:{secret}@127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_server(directory: Path) -> Server:
    port = free_port()
    passwords = {name: secrets.token_urlsafe(16) for name in SERVICES}
    command = embedded.nats_command(directory / "nats", port=port, users=passwords)
    with (directory / "nats.log").open("ab") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    server = Server(port=port, passwords=passwords, process=process)
    try:
        wait_for_port(port, timeout=10)
    except TimeoutError:
        server.stop()
        raise
    return server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server for the module; each test uses apps and consumers of its own."""
    started = start_server(tmp_path_factory.mktemp("nats"))
    try:
        yield started
    finally:
        started.stop()


@dataclass
class Client:
    """A service's connection, and the permissions violations the server reported to it."""

    service: str
    nc: nats.aio.client.Client
    refusals: list[str] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def js(self) -> nats.js.JetStreamContext:
        return self.nc.jetstream(timeout=2)

    async def refused(self, subject: str, *, wait: float = 5.0) -> bool:
        """Whether the server refuses `subject` to this client, waiting up to `wait` seconds.

        A flush cannot tell: nats-py writes its PING ahead of the publishes still buffered.
        """
        quoted = f'"{subject.lower()}"'
        try:
            async with asyncio.timeout(wait):
                while not any(VIOLATION in r and quoted in r for r in self.refusals):
                    self.arrived.clear()
                    await self.arrived.wait()
        except TimeoutError:
            return False
        return True

    async def settle(self) -> None:
        """Flush twice: the second PING leaves after everything sent before the first."""
        await self.nc.flush()
        await self.nc.flush()


Connect = Callable[[str], Awaitable[Client]]


async def _connect(server: Server, service: str) -> Client:
    client = Client(service=service, nc=nats.aio.client.Client())

    async def on_error(exc: Exception) -> None:
        client.refusals.append(str(exc).lower())
        client.arrived.set()

    await client.nc.connect(
        server.url(service), error_cb=on_error, allow_reconnect=False, connect_timeout=2
    )
    return client


@pytest.fixture
async def connect(server: Server) -> AsyncIterator[Connect]:
    """Connect as a service; at the end every client must have met no refusal."""
    clients: list[Client] = []

    async def make(service: str) -> Client:
        client = await _connect(server, service)
        clients.append(client)
        await topology.ensure_topology(client.js)  # what the service runner does first
        return client

    try:
        yield make
        for client in clients:
            await client.settle()
            assert client.refusals == [], f"{client.service} was refused"
    finally:
        for client in clients:
            await client.nc.close()


@pytest.fixture
def app() -> str:
    return unique_name("app")


def test_every_service_has_permissions_and_nothing_else_does() -> None:
    assert set(permissions.BY_SERVICE) == set(SERVICES)


def test_a_user_that_is_no_service_gets_no_configuration(tmp_path: Path) -> None:
    with pytest.raises(CtlError, match="intruder"):
        embedded.nats_command(tmp_path / "nats", port=4222, users={"intruder": "pw"})


@pytest.mark.parametrize("service", SERVICES)
async def test_each_service_alone_makes_the_streams_and_buckets(
    tmp_path: Path, service: str
) -> None:
    # The services start together: whichever comes first makes the topology.
    empty = start_server(tmp_path)
    try:
        client = await _connect(empty, service)
        try:
            if service == "logger":
                await topology.ensure_topology(client.js, logs_max_per_subject=100)
            else:
                await topology.ensure_topology(client.js)
            await client.settle()
            assert client.refusals == []
            for stream in (topology.EVENTS_STREAM, topology.LOGS_STREAM):
                assert (await client.js.stream_info(stream)).config.name == stream
            for bucket in topology.BUCKET_HISTORY:
                await client.js.stream_info(topology.bucket_stream(bucket))
        finally:
            await client.nc.close()
    finally:
        empty.stop()


async def test_events_reach_their_readers(connect: Connect, app: str) -> None:
    controller, builder = await connect("controller"), await connect("builder")
    scheduler, router = await connect("scheduler"), await connect("router")
    seen: list[str] = []

    async def keep(msg: Msg) -> None:
        seen.append(msg.subject)

    # The builder waits for what follows its push with core subscriptions.
    for subject in (
        release_events.created_subject(app),
        build_events.refused_subject(app),
        deploy_events.app_subjects(app),
        router_events.APPLIED_SUBJECT,
    ):
        await builder.nc.subscribe(subject, cb=keep)
    await builder.nc.flush()
    consumed: asyncio.Queue[str] = asyncio.Queue()

    async def handle(msg: Msg) -> None:
        await consumed.put(msg.subject)

    consumer = consuming.Consumer(
        js=controller.js,
        stream=topology.EVENTS_STREAM,
        durable=unique_name("controller-"),
        filter_subject=build_events.completed_subject(app),
        handler=handle,
        poll=0.2,
    )
    consuming_task = asyncio.create_task(consumer.run())
    try:

        async def publish(client: Client, subject: str) -> None:
            msg_id = str(uuid.uuid4())
            await publishing.publish(client.js, subject=subject, data=b"{}", msg_id=msg_id)

        await publish(builder, build_events.completed_subject(app))
        await publish(builder, build_events.failed_subject(app))
        assert await asyncio.wait_for(consumed.get(), 10) == build_events.completed_subject(app)
        await publish(controller, release_events.created_subject(app))
        await publish(controller, build_events.refused_subject(app))  # its outbox relay
        for subject in (
            deploy_events.started_subject(app),
            deploy_events.succeeded_subject(app),
            deploy_events.failed_subject(app),
        ):
            await publish(scheduler, subject)
        await publish(router, router_events.APPLIED_SUBJECT)
        await publish(router, router_events.REJECTED_SUBJECT)
        await builder.nc.flush()
        assert set(seen) == {
            release_events.created_subject(app),
            build_events.refused_subject(app),
            deploy_events.started_subject(app),
            deploy_events.succeeded_subject(app),
            deploy_events.failed_subject(app),
            router_events.APPLIED_SUBJECT,
        }
    finally:
        await consumer.stop()
        await consuming_task


async def first(watcher: watching.Watcher) -> watching.Entry:
    try:
        return await asyncio.wait_for(anext(watcher), 10)
    finally:
        await watcher.close()


async def test_each_bucket_is_written_by_its_owner_and_read_by_its_readers(
    connect: Connect, app: str
) -> None:
    controller, scheduler = await connect("controller"), await connect("scheduler")
    router, logger = await connect("router"), await connect("logger")

    async def put(client: Client, bucket: str, value: bytes) -> None:
        await publishing.publish(
            client.js, subject=f"$KV.{bucket}.{app}", data=value, msg_id=str(uuid.uuid4())
        )

    # The controller's outbox relay and the scheduler write KV with JetStream publishes.
    await put(controller, desired_kv.BUCKET, b"desired")
    await put(controller, routes_kv.BUCKET, b"routes")
    await put(scheduler, endpoints_kv.BUCKET, b"endpoints")
    await put(scheduler, procs_kv.BUCKET, b"procs")

    def watch(client: Client, bucket: str) -> watching.Watcher:
        return watching.watch(js=client.js, nc=client.nc, bucket=bucket, keys=app)

    assert (await first(watch(scheduler, desired_kv.BUCKET))).value == b"desired"
    assert (await first(watch(router, routes_kv.BUCKET))).value == b"routes"
    assert (await first(watch(router, endpoints_kv.BUCKET))).value == b"endpoints"
    wanted = await (await scheduler.js.key_value(desired_kv.BUCKET)).get(app)
    assert wanted.value == b"desired"
    processes = await (await controller.js.key_value(procs_kv.BUCKET)).get(app)
    assert processes.value == b"procs"
    # A destroyed app: the controller deletes its desired state, the logger sees it go.
    await publishing.publish(
        controller.js,
        subject=f"$KV.{desired_kv.BUCKET}.{app}",
        data=b"",
        msg_id=str(uuid.uuid4()),
        headers={"KV-Operation": "DEL"},
    )
    gone = await first(watch(logger, desired_kv.BUCKET))
    assert gone.operation is watching.Operation.DELETE


async def test_log_lines_are_written_by_the_platform_and_read_by_the_logger_and_controller(
    connect: Connect, app: str
) -> None:
    controller, scheduler, logger = (
        await connect("controller"),
        await connect("scheduler"),
        await connect("logger"),
    )
    await topology.ensure_topology(logger.js, logs_max_per_subject=1000)
    # The scheduler ships app output with core publishes; the controller's relay uses JetStream.
    line = logs.LogLine(app=app, process="web.1", message="hello")
    await scheduler.nc.publish(logs.subject(app), publishing.encode(line))
    await scheduler.nc.flush()
    platform = logs.LogLine(app=app, process="controller", message="created")
    await publishing.publish(
        controller.js, subject=logs.subject(app), data=platform, msg_id=str(platform.id)
    )
    # The logger stores what Fluent Bit posts to its ingest endpoint, acknowledged, as
    # `deis_logger.ingesting` does.
    ingested = logs.LogLine(app=app, process="web.v3.x2x7k", message="from fluent bit")
    await publishing.publish_many(
        logger.js,
        messages=[
            publishing.Outgoing(subject=logs.subject(app), data=ingested, msg_id=str(ingested.id))
        ],
        timeout=5,
    )
    # The logger's tail; the controller's `deis logs -f`.
    tail = await logreading.tail(js=logger.js, nc=logger.nc, app=app, lines=10)
    assert [text.endswith(("hello", "created", "from fluent bit")) for text in tail] == [True] * 3
    reader = logreading.LogReader(js=controller.js, nc=controller.nc, app=app, lines=1, follow=True)
    try:
        assert (await asyncio.wait_for(anext(reader), 10)).endswith("from fluent bit")
    finally:
        await reader.close()
    # The logger's archive: a durable pull consumer made anew after its ack floor.
    durable = unique_name("archive-")
    config = nats.js.api.ConsumerConfig(
        durable_name=durable,
        filter_subject=logs.subject(app),
        ack_policy=nats.js.api.AckPolicy.ALL,
    )
    await logger.js.add_consumer(logs.STREAM, config=config)
    await logger.js.consumer_info(logs.STREAM, durable)
    pulled = await logger.js.pull_subscribe_bind(durable=durable, stream=logs.STREAM)
    messages = await pulled.fetch(3, timeout=5)
    await messages[-1].ack_sync()
    await pulled.unsubscribe()
    await logger.js.delete_consumer(logs.STREAM, durable)
    # A deleted app's lines go.
    await logger.js.purge_stream(logs.STREAM, subject=logs.subject(app))
    assert await logreading.tail(js=logger.js, nc=logger.nc, app=app, lines=10) == []


async def test_each_rpc_is_answered_by_its_service_only(connect: Connect, app: str) -> None:
    controller, builder = await connect("controller"), await connect("builder")
    scheduler, logger = await connect("scheduler"), await connect("logger")

    async def owner(_: controller_rpc.KeyLookupRequest) -> controller_rpc.KeyLookupReply:
        return controller_rpc.KeyLookupReply(username="alice")

    async def authorize(_: controller_rpc.AuthorizeRequest) -> controller_rpc.AuthorizeReply:
        return controller_rpc.AuthorizeReply(allowed=True)

    async def run(_: scheduler_rpc.RunRequest) -> scheduler_rpc.RunReply:
        return scheduler_rpc.RunReply(exit_code=0, output="ran")

    async def tail(_: logger_rpc.TailRequest) -> logger_rpc.TailReply:
        return logger_rpc.TailReply(lines=["a line"])

    responders: list[requesting.Responder] = [  # type: ignore[type-arg]
        requesting.Responder(
            nc=controller.nc,
            subject=controller_rpc.KEY_SUBJECT,
            queue="controller",
            request_type=controller_rpc.KeyLookupRequest,
            handler=owner,
        ),
        requesting.Responder(
            nc=controller.nc,
            subject=controller_rpc.AUTHORIZE_SUBJECT,
            queue="controller",
            request_type=controller_rpc.AuthorizeRequest,
            handler=authorize,
        ),
        requesting.Responder(
            nc=scheduler.nc,
            subject=scheduler_rpc.RUN_SUBJECT,
            queue="scheduler",
            request_type=scheduler_rpc.RunRequest,
            handler=run,
        ),
        requesting.Responder(
            nc=logger.nc,
            subject=logger_rpc.TAIL_SUBJECT,
            queue="logger",
            request_type=logger_rpc.TailRequest,
            handler=tail,
        ),
    ]
    for responder in responders:
        await responder.start()
    try:
        key = await requesting.request(
            builder.nc,
            subject=controller_rpc.KEY_SUBJECT,
            payload=controller_rpc.KeyLookupRequest(fingerprint=":".join(["ab"] * 16)),
            reply_type=controller_rpc.KeyLookupReply,
            timeout=5,
        )
        assert key.username == "alice"
        allowed = await requesting.request(
            builder.nc,
            subject=controller_rpc.AUTHORIZE_SUBJECT,
            payload=controller_rpc.AuthorizeRequest(username="alice", app=app),
            reply_type=controller_rpc.AuthorizeReply,
            timeout=5,
        )
        assert allowed.allowed
        ran = await requesting.request(
            controller.nc,
            subject=scheduler_rpc.RUN_SUBJECT,
            payload=scheduler_rpc.RunRequest(
                app=app, command="true", user="alice", timeout_seconds=5
            ),
            reply_type=scheduler_rpc.RunReply,
            timeout=5,
        )
        assert ran.output == "ran"
        tailed = await requesting.request(
            controller.nc,
            subject=logger_rpc.TAIL_SUBJECT,
            payload=logger_rpc.TailRequest(app=app),
            reply_type=logger_rpc.TailReply,
            timeout=5,
        )
        assert tailed.lines == ["a line"]
    finally:
        for responder in responders:
            await responder.close()


APP = "victim"
KV = {
    bucket: f"$KV.{bucket}.{APP}"
    for bucket in (desired_kv.BUCKET, routes_kv.BUCKET, endpoints_kv.BUCKET, procs_kv.BUCKET)
}
API = permissions.API

REFUSED = [
    # Another service's KV bucket.
    ("scheduler", "publish", KV[desired_kv.BUCKET]),
    ("scheduler", "publish", KV[routes_kv.BUCKET]),
    ("router", "publish", KV[endpoints_kv.BUCKET]),
    ("controller", "publish", KV[endpoints_kv.BUCKET]),
    ("builder", "publish", KV[desired_kv.BUCKET]),
    ("logger", "publish", KV[procs_kv.BUCKET]),
    # Another service's events and lines.
    ("builder", "publish", deploy_events.succeeded_subject(APP)),
    ("controller", "publish", build_events.completed_subject(APP)),
    ("builder", "publish", build_events.refused_subject(APP)),
    ("scheduler", "subscribe", build_events.refused_subject(APP)),
    ("logger", "publish", release_events.created_subject(APP)),
    ("router", "publish", logs.subject(APP)),
    ("builder", "publish", logs.subject(APP)),
    # Answering another service's RPCs means subscribing to them.
    ("logger", "subscribe", controller_rpc.AUTHORIZE_SUBJECT),
    ("builder", "subscribe", controller_rpc.KEY_SUBJECT),
    ("scheduler", "subscribe", controller_rpc.KEY_SUBJECT),
    ("logger", "subscribe", controller_rpc.KEY_SUBJECT),
    ("router", "subscribe", controller_rpc.KEY_SUBJECT),
    ("controller", "subscribe", scheduler_rpc.RUN_SUBJECT),
    ("builder", "subscribe", logger_rpc.TAIL_SUBJECT),
    # Nobody reads log lines or events as they pass, and RPCs are asked by their callers only.
    ("builder", "subscribe", logs.SUBJECTS),
    ("router", "subscribe", release_events.ALL_SUBJECTS),
    ("router", "publish", controller_rpc.KEY_SUBJECT),
    ("scheduler", "publish", logger_rpc.TAIL_SUBJECT),
    # JetStream: another service's bucket, the logger's limits and purges, deleting streams.
    ("scheduler", "publish", f"{API}.CONSUMER.CREATE.{topology.bucket_stream(routes_kv.BUCKET)}"),
    ("router", "publish", f"{API}.CONSUMER.CREATE.{topology.bucket_stream(desired_kv.BUCKET)}"),
    ("builder", "publish", f"{API}.CONSUMER.CREATE.{logs.STREAM}"),
    ("scheduler", "publish", f"{API}.STREAM.UPDATE.{logs.STREAM}"),
    ("controller", "publish", f"{API}.STREAM.PURGE.{logs.STREAM}"),
    ("router", "publish", f"{API}.STREAM.DELETE.{topology.bucket_stream(routes_kv.BUCKET)}"),
    ("controller", "publish", f"{API}.STREAM.DELETE.{topology.EVENTS_STREAM}"),
]


@pytest.mark.parametrize(
    ("service", "action", "subject"),
    REFUSED,
    ids=[f"{service}-{action}-{subject}" for service, action, subject in REFUSED],
)
async def test_what_belongs_to_another_service_is_refused(
    server: Server, service: str, action: str, subject: str
) -> None:
    client = await _connect(server, service)
    try:
        if action == "publish":
            await client.nc.publish(subject, b"{}")
        else:
            await client.nc.subscribe(subject)
        assert await client.refused(subject), client.refusals
    finally:
        await client.nc.close()


async def test_a_refused_kv_write_is_not_stored(connect: Connect, app: str) -> None:
    scheduler = await connect("scheduler")
    subject = f"$KV.{desired_kv.BUCKET}.{app}"
    with pytest.raises(bus_errors.BusUnavailable):
        await publishing.publish(
            scheduler.js, subject=subject, data=b"evil", msg_id=str(uuid.uuid4()), timeout=0.5
        )
    assert await scheduler.refused(subject)
    scheduler.refusals.clear()
    bucket = await scheduler.js.key_value(desired_kv.BUCKET)
    with pytest.raises(nats.js.errors.KeyNotFoundError):
        await bucket.get(app)


@pytest.mark.parametrize("password", ["wrong", ""])
async def test_a_wrong_or_missing_password_is_refused_with_a_clear_message(
    server: Server, password: str
) -> None:
    with pytest.raises(bus_errors.BusRefused) as refused:  # not retried: it would not help
        await connection.connect(
            url=server.url("logger", password), name="logger", connect_timeout=2
        )
    message = str(refused.value)
    assert "the server refused user 'logger' (Authorization Violation)" in message
    assert "wrong or missing password" in message
    assert server.passwords["logger"] not in message


async def test_request_metrics_are_written_by_routers_and_read_by_the_controller(
    connect: Connect, app: str
) -> None:
    controller, router = await connect("controller"), await connect("router")
    since = datetime.now(UTC) - timedelta(minutes=1)
    latency = [0] * (len(metrics_events.LATENCY_BUCKETS) + 1)
    latency[0] = 3
    counted = metrics_events.RequestMetrics(
        agent="router-1",
        app=app,
        start=datetime.now(UTC),
        seconds=10,
        requests={"2xx": 3},
        latency=latency,
    )
    await router.nc.publish(metrics_events.requests_subject(app), publishing.encode(counted))
    await router.nc.flush()
    # `deis metrics`: an ephemeral consumer of METRICS, without flow control.
    read: list[metrics_events.RequestMetrics] = []
    async with asyncio.timeout(10):
        while not read:
            read = await metricsreading.read_requests(
                js=controller.js, nc=controller.nc, app=app, since=since
            )
    assert [message.id for message in read] == [counted.id]
