"""The permissions table against the NATS contract: one writer per bucket, one answerer per RPC.

That nats-server enforces them is tested where `deisctl` writes them into its configuration
(`cli/deisctl/tests/test_nats_permissions.py`).
"""

from deis_shared.bus import permissions, topology
from deis_shared.events import build as build_events, logs
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


def publishers(subject: str) -> set[str]:
    return {name for name, p in permissions.BY_SERVICE.items() if subject in p.publish}


def subscribers(subject: str) -> set[str]:
    return {name for name, p in permissions.BY_SERVICE.items() if subject in p.subscribe}


def test_each_bucket_has_one_writer() -> None:
    writers = {
        bucket: publishers(topology.bucket_subjects(bucket)) for bucket in topology.BUCKET_HISTORY
    }
    assert writers == {
        desired_kv.BUCKET: {"controller"},
        routes_kv.BUCKET: {"controller"},
        endpoints_kv.BUCKET: {"scheduler"},
        procs_kv.BUCKET: {"scheduler"},
        routers_kv.BUCKET: {"router"},
        challenges_kv.BUCKET: {"controller"},
    }


def test_each_rpc_is_answered_by_one_service_and_asked_by_its_callers() -> None:
    rpcs = {
        controller_rpc.KEY_SUBJECT: ({"controller"}, {"builder"}),
        controller_rpc.AUTHORIZE_SUBJECT: ({"controller"}, {"builder"}),
        scheduler_rpc.RUN_SUBJECT: ({"scheduler"}, {"controller"}),
        logger_rpc.TAIL_SUBJECT: ({"logger"}, {"controller"}),
    }
    for subject, (answerer, callers) in rpcs.items():
        assert subscribers(subject) == answerer, subject
        assert publishers(subject) == callers, subject
    responders = {name for name, p in permissions.BY_SERVICE.items() if p.allow_responses}
    assert responders == {"controller", "scheduler", "logger"}


def test_log_lines_are_written_by_the_platform_only() -> None:
    # The scheduler's shipper, the controller's platform lines, the logger's Fluent Bit ingest.
    assert publishers(logs.SUBJECTS) == {"controller", "scheduler", "logger"}
    assert subscribers(logs.SUBJECTS) == set()


def test_nobody_may_use_every_subject() -> None:
    for name, allowed in permissions.BY_SERVICE.items():
        for subject in (*allowed.publish, *allowed.subscribe):
            assert subject.split(".")[0] not in (">", "*"), name
        assert len(set(allowed.publish)) == len(allowed.publish), name
        assert len(set(allowed.subscribe)) == len(allowed.subscribe), name


def test_the_server_configuration_block() -> None:
    assert permissions.ROUTER.server_config() == {
        "publish": {"allow": list(permissions.ROUTER.publish)},
        "subscribe": {"allow": [permissions.INBOXES]},
    }
    assert permissions.LOGGER.server_config()["allow_responses"] is True


def test_builds_go_to_the_controller_and_its_refusals_back_to_the_push() -> None:
    assert publishers(build_events.COMPLETED_SUBJECTS) == {"builder"}
    assert publishers(build_events.FAILED_SUBJECTS) == {"builder"}
    assert publishers(build_events.REFUSED_SUBJECTS) == {"controller"}
    assert subscribers(build_events.REFUSED_SUBJECTS) == {"builder"}
