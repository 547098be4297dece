"""What each service may publish and subscribe to on NATS: its user's permissions.

A server that gives each service a user of its own (`deisctl` does, `deisctl.embedded`)
checks every publish and subscription of that user against these allow lists, so a service can
only write what the NATS contract (docs/architecture.md) says it writes, and only answer its
own RPCs.
They are derived from what the code does:

    controller  writes release events, refused builds, KV desired, routes and challenges,
                deis.logs.<app>, requests to scheduler.run and logger.tail; reads EVENTS
                (durable consumers), LOGS (`deis logs -f`), KV procs (get), METRICS
                (`deis metrics`); answers controller.key and .authorize
    builder     writes build events, requests to controller.key and .authorize; subscribes
                to release.*.created, build.*.refused, deploy.> and router.applied
    scheduler   writes deploy events, KV endpoints and procs, deis.logs.<app>; reads KV
                desired (watch, get) and routers (watch); answers scheduler.run
    logger      sets the limits of LOGS and purges it; writes deis.logs.<app> (the lines
                Fluent Bit posts to its ingest endpoint); reads LOGS (archive, tails) and KV
                desired (watch); answers logger.tail
    router      writes router.applied and .rejected, deis.metrics.requests.<app>, KV
                routers (its own key); reads KV routes, endpoints and challenges (watch)

Reading a stream is not a subscription but requests on `$JS.API.` subjects naming the stream,
as nats-py makes them:

    stream info, create, update    $JS.API.STREAM.INFO|CREATE|UPDATE.<stream>
    durable pull consumer          $JS.API.CONSUMER.DURABLE.CREATE.<stream>.<durable>,
                                   $JS.API.CONSUMER.MSG.NEXT.<stream>.<durable>, $JS.ACK.<stream>.>
    ephemeral push consumer        $JS.API.CONSUMER.CREATE.<stream> (no name in the subject),
                                   $JS.API.CONSUMER.DELETE.<stream>.<name>, and for log readers,
                                   which ask for flow control, its replies $JS.FC.<stream>.>
    KV get                         $JS.API.DIRECT.GET.KV_<bucket>.$KV.<bucket>.<key>
    a subject's last message       $JS.API.STREAM.MSG.GET.<stream>

Broader than one service's own part, each for a reason:

- Every service may create and update every stream and bucket (`LOGS` only created, its limits
  are the logger's): each service calls `topology.ensure_topology()` at its start (the service
  runner does), the services start together, and any of them may be the first after an
  upgrade that changes a stream's shape.
- Every service subscribes to `_INBOX.>`: nats-py takes its reply subjects (RPC replies,
  JetStream API answers, push consumers' deliveries) under `_INBOX.` with no per-user prefix,
  so a service could read replies meant for another. A prefix per service (nats-py's
  `inbox_prefix`, given at connect) would narrow it to `_INBOX_<service>.>`.
- A consumer reads its whole stream: the server checks the stream named in the request, not
  the consumer's filter, so a reader of `EVENTS` or `LOGS` may read all of it.
- Consumer names are `*`: a subject token cannot be matched by prefix (`controller-*`), and
  ephemeral consumers are named by the server.
- The controller, the scheduler and the logger publish to `deis.logs.>`: they write lines for
  every app.
"""

import dataclasses
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

import nats.js.api

from deis_shared.bus import topology
from deis_shared.events import (
    build as build_events,
    deploy as deploy_events,
    logs,
    metrics as metrics_events,
    release as release_events,
    router as router_events,
)
from deis_shared.kv import (
    challenges as challenges_kv,
    desired as desired_kv,
    endpoints as endpoints_kv,
    procs as procs_kv,
    routers as routers_kv,
    routes as routes_kv,
)
from deis_shared.rpc import (
    controller as controller_rpc,
    logger as logger_rpc,
    scheduler as scheduler_rpc,
)

API = nats.js.api.DEFAULT_PREFIX
"""The JetStream API's subject prefix, `$JS.API`."""

ACK = "$JS.ACK"
"""Prefix of the subjects a consumer's messages are acknowledged on."""

FLOW_CONTROL = "$JS.FC"
"""Prefix of the subjects a push consumer's flow-control requests are answered on."""

INBOXES = "_INBOX.>"
"""Reply subjects: where nats-py receives RPC replies, JetStream answers and push deliveries."""


@dataclasses.dataclass(frozen=True, slots=True)
class Permissions:
    """What one NATS user may do: the subjects it may publish and subscribe to."""

    publish: tuple[str, ...]
    """Subjects (wildcards allowed) it may publish to, JetStream API requests included."""
    subscribe: tuple[str, ...]
    """Subjects (wildcards allowed) it may subscribe to."""
    allow_responses: bool = False
    """Whether it may publish one reply to each request it received: it answers RPCs."""

    def server_config(self) -> dict[str, Any]:
        """The user's `permissions` block of a nats-server configuration.

        Returns:
            `{"publish": {"allow": [...]}, "subscribe": {"allow": [...]}}`, with
            `"allow_responses": true` for a responder; JSON, which the server's format takes.
        """
        config: dict[str, Any] = {
            "publish": {"allow": list(self.publish)},
            "subscribe": {"allow": list(self.subscribe)},
        }
        if self.allow_responses:
            config["allow_responses"] = True
        return config


def _permissions(
    *, publish: Iterable[str], subscribe: Iterable[str], allow_responses: bool = False
) -> Permissions:
    return Permissions(
        publish=tuple(dict.fromkeys(publish)),
        subscribe=tuple(dict.fromkeys(subscribe)),
        allow_responses=allow_responses,
    )


def _ensuring(stream: str, *, update: bool = True) -> tuple[str, ...]:
    """Reading a stream's info and creating it (and updating it) to match the topology."""
    operations = ("INFO", "CREATE", "UPDATE") if update else ("INFO", "CREATE")
    return tuple(f"{API}.STREAM.{operation}.{stream}" for operation in operations)


def _pulling(stream: str) -> tuple[str, ...]:
    """A durable pull consumer of `stream`: created, pulled from, its messages acknowledged."""
    return (
        f"{API}.CONSUMER.DURABLE.CREATE.{stream}.*",
        f"{API}.CONSUMER.MSG.NEXT.{stream}.*",
        f"{ACK}.{stream}.>",
    )


def _pushing(stream: str, *, flow_control: bool = False) -> tuple[str, ...]:
    """An ephemeral push consumer of `stream`, delivering to an inbox, deleted when done."""
    subjects = (f"{API}.CONSUMER.CREATE.{stream}", f"{API}.CONSUMER.DELETE.{stream}.*")
    return (*subjects, f"{FLOW_CONTROL}.{stream}.>") if flow_control else subjects


def _watching(bucket: str) -> tuple[str, ...]:
    """`watching.Watcher` of KV `bucket` (the bucket's stream info is in `_TOPOLOGY`)."""
    return _pushing(topology.bucket_stream(bucket))


def _getting(bucket: str) -> tuple[str, ...]:
    """nats-py's `KeyValue.get` of a key of `bucket` (the bucket allows direct gets)."""
    stream = topology.bucket_stream(bucket)
    return (f"{API}.DIRECT.GET.{stream}.{topology.bucket_subjects(bucket)}",)


def _writing(bucket: str) -> tuple[str, ...]:
    """Puts and deletes of any key of KV `bucket`."""
    return (topology.bucket_subjects(bucket),)


_READING_LOGS = (
    f"{API}.STREAM.MSG.GET.{logs.STREAM}",  # `logfinding`: where an app's last lines start
    *_pushing(logs.STREAM, flow_control=True),  # `logreading.LogReader`
)

_TOPOLOGY = (
    *_ensuring(topology.EVENTS_STREAM),
    *_ensuring(topology.LOGS_STREAM, update=False),
    *_ensuring(topology.METRICS_STREAM),
    *(
        subject
        for bucket in topology.BUCKET_HISTORY
        for subject in _ensuring(topology.bucket_stream(bucket))
    ),
)
"""What `topology.ensure_topology()` without log limits asks: every service's start."""

CONTROLLER = _permissions(
    publish=(
        *_TOPOLOGY,
        release_events.CREATED_SUBJECTS,  # the outbox relay
        build_events.REFUSED_SUBJECTS,  # the outbox relay: builds it will not release
        *_writing(desired_kv.BUCKET),
        *_writing(routes_kv.BUCKET),
        *_writing(challenges_kv.BUCKET),  # the certificate issuer's HTTP-01 answers
        logs.SUBJECTS,  # platform lines of every app
        scheduler_rpc.RUN_SUBJECT,
        logger_rpc.TAIL_SUBJECT,
        *_pulling(topology.EVENTS_STREAM),  # completed builds, failed deploys
        *_READING_LOGS,  # `deis logs -f`
        *_getting(procs_kv.BUCKET),  # `deis ps`
        *_pushing(metrics_events.STREAM),  # `deis metrics`
    ),
    subscribe=(
        INBOXES,
        controller_rpc.KEY_SUBJECT,
        controller_rpc.AUTHORIZE_SUBJECT,
        # What a request that makes a release waits for, as core subscriptions
        # (`deis_shared.rollouts`, the controller's `waiting`).
        release_events.CREATED_SUBJECTS,
        deploy_events.ALL_SUBJECTS,
        router_events.APPLIED_SUBJECT,
    ),
    allow_responses=True,
)

BUILDER = _permissions(
    publish=(
        *_TOPOLOGY,
        build_events.COMPLETED_SUBJECTS,
        build_events.FAILED_SUBJECTS,
        controller_rpc.KEY_SUBJECT,
        controller_rpc.AUTHORIZE_SUBJECT,
    ),
    # What a push waits for, as core subscriptions (`deploys.watch`).
    subscribe=(
        INBOXES,
        release_events.CREATED_SUBJECTS,
        build_events.REFUSED_SUBJECTS,
        deploy_events.ALL_SUBJECTS,
        router_events.APPLIED_SUBJECT,
    ),
)

SCHEDULER = _permissions(
    publish=(
        *_TOPOLOGY,
        deploy_events.ALL_SUBJECTS,
        *_writing(endpoints_kv.BUCKET),
        *_writing(procs_kv.BUCKET),
        logs.SUBJECTS,  # the output of every app's processes
        *_watching(desired_kv.BUCKET),
        *_getting(desired_kv.BUCKET),  # whether an adopted app is still wanted
        *_watching(routers_kv.BUCKET),  # old processes stop once every router moved
    ),
    subscribe=(INBOXES, scheduler_rpc.RUN_SUBJECT),
    allow_responses=True,
)

LOGGER = _permissions(
    publish=(
        *_TOPOLOGY,
        *_ensuring(logs.STREAM),  # the logger sets the limits of `LOGS`
        logs.SUBJECTS,  # the lines Fluent Bit posts to the ingest endpoint
        f"{API}.STREAM.PURGE.{logs.STREAM}",  # a deleted app's lines
        f"{API}.CONSUMER.INFO.{logs.STREAM}.*",  # the archive's ack floor
        *_pulling(logs.STREAM),  # the archive
        f"{API}.CONSUMER.DELETE.{logs.STREAM}.*",  # the archive's consumer, made anew
        *_READING_LOGS,  # tails
        *_watching(desired_kv.BUCKET),  # deleted apps
    ),
    subscribe=(INBOXES, logger_rpc.TAIL_SUBJECT),
    allow_responses=True,
)

ROUTER = _permissions(
    publish=(
        *_TOPOLOGY,
        router_events.APPLIED_SUBJECT,
        router_events.REJECTED_SUBJECT,
        metrics_events.REQUESTS_SUBJECTS,
        *_writing(routers_kv.BUCKET),
        *_watching(challenges_kv.BUCKET),
        *_watching(routes_kv.BUCKET),
        *_watching(endpoints_kv.BUCKET),
    ),
    subscribe=(INBOXES,),
)

BY_SERVICE: Mapping[str, Permissions] = MappingProxyType(
    {
        "controller": CONTROLLER,
        "builder": BUILDER,
        "scheduler": SCHEDULER,
        "logger": LOGGER,
        "router": ROUTER,
    }
)
"""Each service's permissions, by its NATS user name (the router agent's is `router`)."""
