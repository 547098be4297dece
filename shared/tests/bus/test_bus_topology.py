import asyncio
import logging

from deis_shared.bus import connection, topology
from deis_testing import NatsServer


async def _bus(server: NatsServer) -> connection.Bus:
    return await connection.connect(url=server.url, name="t", connect_timeout=1)


async def test_ensure_topology_creates_everything_and_is_idempotent(nats_server_factory, caplog):
    bus = await _bus(nats_server_factory())
    try:
        await asyncio.gather(topology.ensure_topology(bus.js), topology.ensure_topology(bus.js))
        caplog.set_level(logging.INFO, logger="deis_shared.bus.topology")
        await topology.ensure_topology(bus.js)
        assert caplog.records == []  # nothing created or updated the second time
        events = await bus.js.stream_info("EVENTS")
        assert events.config.subjects == ["deis.events.>"]
        assert events.config.duplicate_window == 120
        assert events.config.storage == "file"
        logs = await bus.js.stream_info("LOGS")
        assert logs.config.max_msgs_per_subject == 10_000
        assert logs.config.max_age == 7 * 86400
        for bucket, history in topology.BUCKET_HISTORY.items():
            kv = await bus.js.key_value(bucket)
            status = await kv.status()
            assert status.history == history
            await kv.put("k", b"v")
            assert (await kv.get("k")).value == b"v"
    finally:
        await bus.close()


async def test_ensure_topology_updates_what_differs(nats_server_factory):
    bus = await _bus(nats_server_factory())
    try:
        await topology.ensure_topology(bus.js)
        await topology.ensure_topology(bus.js, logs_max_per_subject=5, logs_max_age=3600)
        logs = await bus.js.stream_info("LOGS")
        assert logs.config.max_msgs_per_subject == 5
        assert logs.config.max_age == 3600
        await topology.ensure_bucket(bus.js, name="desired", history=3)
        assert (await (await bus.js.key_value("desired")).status()).history == 3
    finally:
        await bus.close()


async def test_duplicate_window_dedupes_events(nats_server_factory):
    bus = await _bus(nats_server_factory())
    try:
        await topology.ensure_topology(bus.js)
        for _ in range(2):
            await bus.js.publish("deis.events.x", b"", headers={"Nats-Msg-Id": "e1"})
        assert (await bus.js.stream_info("EVENTS")).state.messages == 1
    finally:
        await bus.close()


async def test_only_the_caller_giving_log_limits_changes_logs(nats_server_factory):
    bus = await _bus(nats_server_factory())
    try:
        await topology.ensure_topology(bus.js, logs_max_per_subject=5, logs_max_age=3600)
        await topology.ensure_topology(bus.js)  # another service starting: LOGS left alone
        logs = await bus.js.stream_info("LOGS")
        assert (logs.config.max_msgs_per_subject, logs.config.max_age) == (5, 3600)
        await topology.ensure_topology(bus.js, logs_max_per_subject=7)
        logs = await bus.js.stream_info("LOGS")
        assert (logs.config.max_msgs_per_subject, logs.config.max_age) == (7, 7 * 86400)
    finally:
        await bus.close()


async def test_ensure_stream_without_update_leaves_a_different_stream(nats_server_factory):
    bus = await _bus(nats_server_factory())
    try:
        config = topology.logs_stream_config(max_per_subject=3, max_age=60)
        await topology.ensure_stream(bus.js, config=config, update=False)  # missing: created
        other = topology.logs_stream_config(max_per_subject=9, max_age=60)
        await topology.ensure_stream(bus.js, config=other, update=False)
        assert (await bus.js.stream_info("LOGS")).config.max_msgs_per_subject == 3
        await topology.ensure_stream(bus.js, config=other)
        assert (await bus.js.stream_info("LOGS")).config.max_msgs_per_subject == 9
    finally:
        await bus.close()
