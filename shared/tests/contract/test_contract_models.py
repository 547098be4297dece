"""Every wire model round-trips, has a sample here and matches its committed JSON Schema.

Models are discovered by walking `deis_shared.events`, `.kv` and `.rpc`, so a new model cannot
skip these tests: it needs a sample in `SAMPLES` and a snapshot (`--update-snapshots`).
"""

import difflib
import importlib
import json
import pkgutil
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from uuid import UUID

import pytest

from deis_shared import wire
from deis_shared.events import build, deploy, logs, metrics, release, router
from deis_shared.kv import challenges, desired, endpoints, procs, routers, routes
from deis_shared.rpc import controller, logger, scheduler

SNAPSHOTS = Path(__file__).parent / "snapshots"
PACKAGES = ("deis_shared.events", "deis_shared.kv", "deis_shared.rpc")
WHEN = datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)
ID = UUID("00000000-0000-4000-8000-000000000001")

_PROBE = desired.Probe(
    exec=desired.ExecAction(command=["cat", "/tmp/ok"]),
    http_get=desired.HttpGetAction(
        port=5000,
        path="/healthz",
        host="localhost",
        scheme="HTTP",
        http_headers=[desired.HttpHeader(name="X-Probe", value="1")],
    ),
    tcp_socket=desired.TcpSocketAction(port=5000),
    initial_delay_seconds=50,
    timeout_seconds=50,
    period_seconds=10,
    success_threshold=1,
    failure_threshold=3,
)

SAMPLES: list[wire.Message] = [
    build.BuildCompleted(
        app="myapp",
        build_id=ID,
        sha="abc1234",
        slug_key="slugs/myapp/abc1234.tar.gz",
        procfile={"web": "python app.py", "worker-2": "python worker.py"},
        user="bob",
    ),
    build.BuildFailed(
        app="myapp", build_id=ID, sha="abc1234", user="bob", reason="no buildpack detected"
    ),
    build.BuildRefused(
        app="myapp",
        build_id=ID,
        sha="abc1234",
        user="bob",
        reason="app myapp was deleted during the push: nothing was released",
    ),
    release.ReleaseCreated(
        app="myapp",
        release_id=ID,
        version=3,
        summary="bob deployed abc1234",
        owner="bob",
        build_sha="abc1234",
        created=WHEN,
    ),
    deploy.DeployStarted(app="myapp", version=3, formation={"web": 2, "worker": 0}),
    deploy.DeploySucceeded(app="myapp", version=3, duration_seconds=4.5),
    deploy.DeployFailed(
        app="myapp", version=3, reason="web.1 exited with 1", last_lines=["boom", "Traceback"]
    ),
    router.RouterApplied(agent="router-0", revision=7, latency_seconds=0.25, apps=["myapp"]),
    router.RouterRejected(agent="router-0", revision=8, app="myapp", message="nginx: [emerg] x"),
    metrics.RequestMetrics(
        agent="router-0",
        app="myapp",
        start=WHEN,
        seconds=10.0,
        requests={"2xx": 95, "5xx": 5},
        response_bytes=51200,
        latency=[40, 30, 20, 5, 3, 1, 1, 0, 0, 0, 0, 0],
    ),
    challenges.Challenge(
        token="LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0",
        key_authorization="LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0.9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI",
        app="myapp",
        domain="www.example.com",
    ),
    routers.RouterMember(
        agent="router-0",
        started_at=WHEN,
        heartbeat_seconds=2.0,
        endpoints_sequence=42,
        revision=7,
    ),
    logs.LogLine(app="myapp", process="web.1", message="listening on 5000 ✓", ts=WHEN),
    desired.DesiredState(
        app="myapp",
        release=desired.DesiredRelease(
            id=ID, version=3, summary="bob deployed abc1234", created=WHEN
        ),
        build=desired.DesiredBuild(
            id=ID, sha="abc1234", slug_key="slugs/myapp/abc1234.tar.gz", procfile={"web": "x"}
        ),
        formation={"web": 2},
        config={"GREETING": "hi", "_under": "été"},
        limits=desired.Limits(memory={"web": "0/100MB"}, cpu={"web": "500m/600m"}),
        healthchecks={"web": desired.Healthcheck(liveness_probe=_PROBE, readiness_probe=_PROBE)},
        tags={"kubernetes.io/hostname": "node-1"},
        registry={"username": "u", "password": "p", "hostname": "registry.example.com"},
        port=5000,
        routable=True,
        maintenance=False,
        autoscale={"web": desired.Autoscale(min=1, max=4, cpu_percent=80)},
    ),
    desired.DesiredState(
        app="pulled",
        release=desired.DesiredRelease(id=ID, version=2, summary="bob deployed x/y", created=WHEN),
        build=None,
        image=desired.DesiredImage(id=ID, image="registry.example.com/x/y:1.0", sha="v1.0"),
        formation={"cmd": 1},
        config={},
        port=None,
        routable=True,
        maintenance=False,
    ),
    routes.Routes(
        app="myapp",
        default_domain="myapp.localhost",
        domains=["myapp", "www.example.com", "*.example.org", "xn--caf-dma.example"],
        certificates=[
            routes.Certificate(
                name="mycert",
                domains=["www.example.com"],
                certificate="-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n",
                key="-----BEGIN PRIVATE KEY-----\ny\n-----END PRIVATE KEY-----\n",
            )
        ],
        whitelist=["1.2.3.4", "10.0.0.0/8", "2001:db8::/32"],
        https_enforced=True,
        maintenance=False,
        routable=True,
    ),
    endpoints.Endpoints(
        app="myapp",
        version=3,
        upstreams=[
            endpoints.Upstream(host="127.0.0.1", port=40001),
            endpoints.Upstream(host="::1", port=40002),
            endpoints.Upstream(host="myapp-web.myapp.svc", port=80),
        ],
    ),
    procs.Procs(
        app="myapp",
        processes=[
            procs.Process(
                name="myapp-web-1",
                type="web",
                index=1,
                release=3,
                state=procs.ProcessState.UP,
                started=WHEN,
                restarts=2,
                pid=4242,
                exit_code=1,
                memory="100MB",
                cpu="500m",
            ),
            procs.Process(
                name="myapp-run-a1b2c",
                type="run",
                index=1,
                release=3,
                state=procs.ProcessState.STARTING,
                started=None,
                restarts=0,
            ),
        ],
    ),
    controller.KeyLookupRequest(fingerprint="54:6d:da:1f:91:b5:2b:6f:a2:83:90:c4:f9:73:76:f5"),
    controller.KeyLookupReply(username="bob"),
    controller.AuthorizeRequest(username="bob", app="myapp"),
    controller.AuthorizeReply(allowed=False, reason="bob may not use app myapp"),
    scheduler.RunRequest(
        app="myapp", command="python manage.py migrate", user="bob", timeout_seconds=60
    ),
    scheduler.RunReply(exit_code=0, output="done\n", truncated=True),
    logger.TailRequest(app="myapp", lines=50),
    logger.TailReply(lines=["2024-05-01T12:00:00.123456Z myapp[web.1]: hi"]),
]


def _modules() -> list[ModuleType]:
    found = []
    for package_name in PACKAGES:
        package = importlib.import_module(package_name)
        found.append(package)
        for info in pkgutil.walk_packages(package.__path__, prefix=f"{package_name}."):
            found.append(importlib.import_module(info.name))
    return found


def discover_models() -> dict[str, type[wire.Message]]:
    """Every `Message` subclass defined in the contract packages, by snapshot name."""
    models: dict[str, type[wire.Message]] = {}
    for module in _modules():
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, wire.Message)
                and value.__module__ == module.__name__
            ):
                models[snapshot_name(value)] = value
    return models


def snapshot_name(model: type[wire.Message]) -> str:
    return f"{model.__module__.removeprefix('deis_shared.')}.{model.__name__}"


def _schema_text(model: type[wire.Message]) -> str:
    schema = model.model_json_schema(by_alias=True)
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


MODELS = discover_models()


def test_discovery_finds_the_known_families() -> None:
    assert "events.build.BuildCompleted" in MODELS
    assert "kv.desired.DesiredState" in MODELS
    assert "rpc.logger.TailReply" in MODELS
    assert len(MODELS) >= 20


def test_every_model_has_a_sample() -> None:
    sampled = {snapshot_name(type(sample)) for sample in SAMPLES}
    assert sampled == set(MODELS), "add a sample for each new model to SAMPLES"


def test_every_model_has_a_snapshot_and_no_snapshot_is_stale(update_snapshots: bool) -> None:
    on_disk = {path.stem for path in SNAPSHOTS.glob("*.json")}
    if update_snapshots:
        for stale in on_disk - set(MODELS):
            (SNAPSHOTS / f"{stale}.json").unlink()
        return
    assert not set(MODELS) - on_disk, "missing snapshots: run with --update-snapshots"
    assert not on_disk - set(MODELS), "snapshots of removed models: run with --update-snapshots"


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_model_pins_its_schema_version(name: str) -> None:
    field = MODELS[name].model_json_schema(by_alias=True)["properties"]["schema"]
    assert isinstance(field.get("const"), int), "pin `schema_version: Literal[N]`"
    assert field["default"] == field["const"]


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: type(s).__name__)
def test_round_trip(sample: wire.Message) -> None:
    data = wire.encode(sample)
    assert wire.decode(data, type(sample)) == sample
    raw = json.loads(data)
    assert raw["schema"] == type(sample).model_fields["schema_version"].default
    assert UUID(raw["id"]) == sample.id
    assert raw["ts"].endswith("Z")


@pytest.mark.parametrize("name", sorted(MODELS))
def test_json_schema_matches_snapshot(name: str, update_snapshots: bool) -> None:
    path = SNAPSHOTS / f"{name}.json"
    current = _schema_text(MODELS[name])
    if update_snapshots:
        SNAPSHOTS.mkdir(exist_ok=True)
        path.write_text(current, encoding="utf-8")
        return
    if not path.exists():
        pytest.fail(
            f"no snapshot {path.name}: run `pytest {Path(__file__).parent} --update-snapshots`"
        )
    committed = path.read_text(encoding="utf-8")
    if committed != current:
        diff = "".join(
            difflib.unified_diff(
                committed.splitlines(keepends=True),
                current.splitlines(keepends=True),
                fromfile=f"snapshots/{path.name} (committed)",
                tofile=f"{name} (current model)",
            )
        )
        pytest.fail(
            f"wire schema of {name} changed; review, then run with --update-snapshots:\n{diff}",
            pytrace=False,
        )
