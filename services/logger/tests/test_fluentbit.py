"""Fluent Bit's batches: their mapping to log lines (`fluentbit`), then the ingest endpoint of
a running logger on a real nats-server (`ingesting`), lines read back from the `LOGS` stream.

Records are shaped as Fluent Bit's docs show them: the `http` output's `json_lines` (one
object per line, the date key `date` as a double or an ISO 8601 string) around what the `tail`
input with the `cri` parser and the `kubernetes` filter make (`time`, `stream`, `_p`, `log`,
`kubernetes` with pod_name, namespace_name, pod_id, labels, annotations, host, pod_ip,
container_name, docker_id, container_hash, container_image).
"""

import contextlib
import copy
import gzip
import json
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from deis_logger import fluentbit, ingesting
from deis_shared import wire
from deis_shared.events import logs
from deis_testing import free_port, unique_name

RECEIVED = datetime(2024, 5, 1, 13, 0, tzinfo=UTC)


def record(
    *,
    app: str = "shop",
    kind: str = "web",
    version: str | None = "v3",
    pod: str | None = None,
    log: Any = "listening on 5000\n",
    stream: str = "stdout",
    date: Any = 1714564800.123456,
    **more: Any,
) -> dict[str, Any]:
    """A record of a Deis app's pod as Fluent Bit posts it."""
    labels = {"app": app, "heritage": "deis", "pod-template-hash": "6f7d9c8b5", "type": kind}
    if version is not None:
        labels["version"] = version
    made: dict[str, Any] = {
        "date": date,
        "time": "2024-05-01T12:00:00.123456789Z",
        "stream": stream,
        "_p": "F",
        "log": log,
        "kubernetes": {
            "pod_name": pod or f"{app}-{kind}-6f7d9c8b5-x2x7k",
            "namespace_name": app,
            "pod_id": "c759a5f5-4c1e-4f0e-9117-8a1dc0b1f907",
            "labels": labels,
            "annotations": {"deis.io/restartedAt": "2024-05-01T11:00:00Z"},
            "host": "node-1",
            "pod_ip": "10.0.3.17",
            "container_name": kind,
            "docker_id": "2acc5f0d9e8b7a6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c",
            "container_hash": "registry.example/deis/slugrunner@sha256:5163d0c1",
            "container_image": "registry.example/deis/slugrunner:dev",
        },
    }
    if date is None:
        del made["date"]
    made.update(more)
    return made


def body(*records: Any) -> bytes:
    """Records as the http output's json_lines: one per line, each ending in a newline."""
    return b"".join(json.dumps(r).encode() + b"\n" for r in records)


def line(rec: dict[str, Any]) -> logs.LogLine | None:
    return fluentbit.to_line(rec, received=RECEIVED)


def test_a_deis_apps_record_becomes_its_line() -> None:
    mapped = line(record())
    assert mapped is not None
    assert (mapped.app, mapped.process, mapped.message) == (
        "shop",
        "web.v3.x2x7k",
        "listening on 5000",
    )
    assert mapped.ts == datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)
    assert logs.subject(mapped.app) == "deis.logs.shop"
    assert mapped.format() == "2024-05-01T12:00:00.123456Z shop[web.v3.x2x7k]: listening on 5000"


def test_the_process_is_the_type_release_and_pod_suffix() -> None:
    worker = line(record(kind="worker-2", pod="shop-worker-2-7c9d8f6b4-abcde", version="v12"))
    assert worker is not None and worker.process == "worker-2.v12.abcde"
    unversioned = line(record(version=None))
    assert unversioned is not None and unversioned.process == "web.x2x7k"
    bare = line(record(pod="single"))
    assert bare is not None and bare.process == "web.v3.single"


@pytest.mark.parametrize(
    ("date", "expected"),
    [
        (1714564800.5, datetime(2024, 5, 1, 12, 0, 0, 500000, tzinfo=UTC)),  # double
        (1714564800, datetime(2024, 5, 1, 12, 0, tzinfo=UTC)),  # epoch
        (1714564800250, datetime(2024, 5, 1, 12, 0, 0, 250000, tzinfo=UTC)),  # epoch_ms
        ("2024-05-01T12:00:00.000681Z", datetime(2024, 5, 1, 12, 0, 0, 681, tzinfo=UTC)),
        ("2024-05-01 12:00:00.000681", datetime(2024, 5, 1, 12, 0, 0, 681, tzinfo=UTC)),
        ("2024-05-01T14:00:00+02:00", datetime(2024, 5, 1, 12, 0, tzinfo=UTC)),
    ],
    ids=["double", "epoch", "epoch_ms", "iso8601", "java_sql_timestamp", "offset"],
)
def test_the_date_key_in_each_json_date_format(date: Any, expected: datetime) -> None:
    mapped = line(record(date=date))
    assert mapped is not None and mapped.ts == expected


def test_without_a_date_the_runtimes_time_then_the_receipt() -> None:
    from_time = line(record(date=None))
    assert from_time is not None
    assert from_time.ts == datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)
    bare = record(date=None)
    del bare["time"]
    received = line(bare)
    assert received is not None and received.ts == RECEIVED


@pytest.mark.parametrize(
    ("log", "message"),
    [
        ("plain\n", "plain"),
        ("crlf\r\n", "crlf"),
        ("no newline (cri)", "no newline (cri)"),
        ("two\n\n", "two\n"),
        ("\n", ""),
        ("ansi \x1b[31mred\x1b[0m\n", "ansi \x1b[31mred\x1b[0m"),
    ],
)
def test_the_message_is_the_log_without_its_line_ending(log: str, message: str) -> None:
    mapped = line(record(log=log))
    assert mapped is not None and mapped.message == message


def test_a_huge_line_is_cut_and_a_lone_surrogate_replaced() -> None:
    huge = line(record(log="é" * 20_000 + "\n"))
    assert huge is not None
    assert len(huge.message.encode()) == fluentbit.MAX_MESSAGE
    odd = line(json.loads('{"log": "half \\ud800 pair"}') | {"kubernetes": record()["kubernetes"]})
    assert odd is not None and odd.message == "half \ufffd pair"


def _without_kubernetes() -> dict[str, Any]:
    rec = record()
    del rec["kubernetes"]
    return rec


def _edited(path: str, value: Any) -> dict[str, Any]:
    """A record with `kubernetes.<path>` set (or removed when `value` is ...)."""
    rec = copy.deepcopy(record())
    *parents, key = path.split(".")
    target = rec["kubernetes"]
    for parent in parents:
        target = target[parent]
    if value is ...:
        del target[key]
    else:
        target[key] = value
    return rec


@pytest.mark.parametrize(
    "rec",
    [
        _without_kubernetes(),
        _edited("labels", ...),
        _edited("labels.heritage", ...),
        _edited("labels.heritage", "helm"),
        _edited("labels.app", ...),
        _edited("labels.type", ...),
        _edited("labels.app", "other-app"),  # a pod claiming another namespace's app
        _edited("namespace_name", "kube-system"),
        record(kind="run", pod="shop-run-1a2b3"),  # `deis run`: its output is the answer
    ],
    ids=[
        "no-kubernetes",
        "no-labels",
        "no-heritage",
        "other-heritage",
        "no-app",
        "no-type",
        "app-not-namespace",
        "namespace-not-app",
        "one-off-run",
    ],
)
def test_records_of_other_pods_are_dropped(rec: dict[str, Any]) -> None:
    assert line(rec) is None


BAD_RECORDS = {
    "log-missing": ({k: v for k, v in record().items() if k != "log"}, "`log` is missing"),
    "log-null": (record(log=None), "`log` must be a string, not null"),
    "log-number": (record(log=42), "`log` must be a string, not a number"),
    "log-object": (record(log={"msg": "hi"}), "`log` must be a string, not an object"),
    "date-not-time": (record(date="yesterday"), '`date` "yesterday" is not a time'),
    "date-bool": (record(date=True), "`date` true is not a time"),
    "date-huge": (record(date=1e300), "is not a time"),
    "time-not-time": (record(date=None, time="soon"), '`time` "soon" is not a time'),
    "kubernetes-string": (record(kubernetes="shop"), "`kubernetes` must be an object"),
    "labels-list": (_edited("labels", ["app=shop"]), "`kubernetes.labels` must be an object"),
    "label-number": (_edited("labels.version", 3), "label 'version' must be a string"),
    "namespace-number": (_edited("namespace_name", 7), "`kubernetes.namespace_name` must be"),
    "app-name-invalid": (
        record(app="Shop_1", pod="shop-web-6f7d9c8b5-x2x7k"),
        "invalid app name 'Shop_1'",
    ),
    "app-name-digit": (record(app="1shop", pod="shop-web-1-x"), "invalid app name '1shop'"),
    "app-name-wildcard": (record(app="shop.>", pod="shop-web-1-x"), "invalid app name"),
    "type-invalid": (record(kind="Web"), "label `type` 'Web' is not a process type"),
    "version-invalid": (record(version="3"), "label `version` '3' is not a release version"),
    "pod-missing": (_edited("pod_name", ...), "`kubernetes.pod_name` is missing"),
    "pod-invalid": (_edited("pod_name", "Shop_Web"), "is not a pod name"),
    "process-too-long": (
        record(pod="shop-web-" + "a" * 130),
        "not a valid log line: String should have at most 128 characters",
    ),
}


@pytest.mark.parametrize(("rec", "reason"), BAD_RECORDS.values(), ids=BAD_RECORDS.keys())
def test_a_bad_record_says_why(rec: dict[str, Any], reason: str) -> None:
    with pytest.raises(ValueError, match=re.escape(reason)):
        line(rec)


def test_a_body_maps_every_record_in_order_and_counts_the_dropped() -> None:
    payload = body(
        record(log="one\n"),
        record(log="two\n", stream="stderr"),
        _edited("labels.heritage", "helm"),
        record(app="cart", kind="worker", log="three\n", date="2024-05-01T12:00:01.5Z"),
    )
    batch = fluentbit.parse(b"\n" + payload + b"\n\n", received=RECEIVED)
    assert [(x.app, x.process, x.message) for x in batch.lines] == [
        ("shop", "web.v3.x2x7k", "one"),
        ("shop", "web.v3.x2x7k", "two"),
        ("cart", "worker.v3.x2x7k", "three"),
    ]
    assert (batch.dropped, batch.records) == (1, 4)


def test_line_ids_are_the_same_for_the_same_body_and_differ_between_lines() -> None:
    payload = body(record(log="same\n"), record(log="same\n"))
    first = [x.id for x in fluentbit.parse(payload, received=RECEIVED).lines]
    again = [x.id for x in fluentbit.parse(payload, received=datetime.now(UTC)).lines]
    assert first == again
    assert len(set(first)) == 2
    other = fluentbit.parse(body(record(log="other\n")), received=RECEIVED).lines[0].id
    assert other not in first
    assert all(isinstance(x, uuid.UUID) for x in first)


@pytest.mark.parametrize(
    ("payload", "detail"),
    [
        (b"", "the body holds no record"),
        (b"\n \n\r\n", "the body holds no record"),
        (body(record()) + b"{not json\n", "line 2: not JSON"),
        (
            body(record()) + b'[{"log": "x"}]\n',
            "line 2: a record must be a JSON object, not an array",
        ),
        (
            body(record()) + b'"just a string"\n',
            "line 2: a record must be a JSON object, not a string",
        ),
        (
            body(record(), record()) + body(record(log=None)),
            "line 3: `log` must be a string, not null",
        ),
        (b'\n\n{"log": "a"}{"log": "b"}\n', "line 3: not JSON: Extra data"),
        (json.dumps([record()]).encode(), "line 1: a record must be a JSON object, not an array"),
        (gzip.compress(body(record())), "line 1: not JSON"),
    ],
    ids=[
        "empty",
        "blank",
        "not-json",
        "array-line",
        "string-line",
        "log-null",
        "json-stream",
        "format-json",
        "gzip-undeclared",
    ],
)
def test_a_bad_body_is_refused_whole_naming_the_line(payload: bytes, detail: str) -> None:
    with pytest.raises(fluentbit.InvalidBatch) as refused:
        fluentbit.parse(payload, received=RECEIVED)
    assert str(refused.value).startswith(detail), str(refused.value)


def test_bytes_that_are_not_utf8_do_not_fail_the_batch() -> None:
    raw = body(record(log="PLACEHOLDER\n")).replace(b"PLACEHOLDER", b"bin \xff\xfe end")
    batch = fluentbit.parse(raw, received=RECEIVED)
    assert batch.lines[0].message == "bin \ufffd\ufffd end"


# The endpoint.

TOKEN = "fluent-bit-shared-secret"
JSON = {"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"}


@contextlib.asynccontextmanager
async def endpoint(bench, **overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
    """A logger with its ingest endpoint on, and a client posting to it."""
    # `model_copy` does not validate: the token is given as the setting's type.
    settings = {"archive": False, "ingest_port": 0, "ingest_token": SecretStr(TOKEN), **overrides}
    async with bench.logger(**settings) as running:
        assert running.ingest is not None
        base = f"http://127.0.0.1:{running.ingest.port}"
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            yield client


async def post(client: httpx.AsyncClient, payload: bytes, **headers: str) -> httpx.Response:
    return await client.post(ingesting.PATH, content=payload, headers={**JSON, **headers})


async def read_back(bench, app: str) -> list[logs.LogLine]:
    """Every line of `app` in `LOGS`, oldest first."""
    count = await bench.stored(app)
    sub = await bench.js.subscribe(logs.subject(app), ordered_consumer=True)
    try:
        return [
            wire.decode((await sub.next_msg(timeout=5)).data, logs.LogLine) for _ in range(count)
        ]
    finally:
        await sub.unsubscribe()


async def test_lines_of_deis_apps_are_stored_and_other_pods_dropped(bench):
    shop, cart = unique_name("shop-"), unique_name("cart-")
    platform = record(app="deis", pod="deis-controller-5b7c9d-q8w2e")
    platform["kubernetes"]["labels"] = {"app": "deis-controller", "heritage": "deis"}
    payload = body(
        record(app=shop, log="listening on 5000\n", date=1714564800.25),
        record(app=shop, log="GET / 200\n", date="2024-05-01T12:00:01.5Z"),
        record(app=shop, log="Traceback (most recent call last):\n", stream="stderr"),
        platform,
        record(
            app=cart, kind="worker", pod=f"{cart}-worker-7f8e9d-abcde", version="v7", log="tick"
        ),
        {"log": "a node's own line\n", "date": 1714564800.0},
    )
    async with endpoint(bench) as client:
        answer = await post(client, payload)
        assert (answer.status_code, answer.json()) == (201, {"accepted": 4, "dropped": 2})
        stored = await read_back(bench, shop)
        worker = await read_back(bench, cart)
    assert [(x.process, x.message, x.ts) for x in stored] == [
        ("web.v3.x2x7k", "listening on 5000", datetime(2024, 5, 1, 12, 0, 0, 250000, tzinfo=UTC)),
        ("web.v3.x2x7k", "GET / 200", datetime(2024, 5, 1, 12, 0, 1, 500000, tzinfo=UTC)),
        (
            "web.v3.x2x7k",
            "Traceback (most recent call last):",
            datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC),
        ),
    ]
    assert [(x.app, x.process, x.message) for x in worker] == [(cart, "worker.v7.abcde", "tick")]
    assert await bench.stored("deis") == 0


async def test_a_batch_sent_again_is_stored_once(bench, app_name):
    payload = body(*(record(app=app_name, log=f"line {n}\n") for n in range(5)))
    async with endpoint(bench) as client:
        assert (await post(client, payload)).status_code == 201
        assert (await post(client, payload)).status_code == 201  # Fluent Bit's retry
        assert await bench.stored(app_name) == 5
        assert (await post(client, payload + body(record(app=app_name)))).status_code == 201
        assert await bench.stored(app_name) == 11


def _bad_bodies(app: str) -> dict[str, bytes]:
    good = body(record(app=app, log="fine\n"), record(app=app, log="also fine\n"))
    hostile = record(app="evil.>", log="x\n")
    return {
        "line 3: not JSON": good + b"{oops\n",
        "line 3: a record must be a JSON object, not an array": good + b'["log"]\n',
        "line 3: `log` is missing": good + body({"kubernetes": record(app=app)["kubernetes"]}),
        "line 3: `log` must be a string, not a number": good + body(record(app=app, log=7)),
        "line 3: `kubernetes` must be an object": good + body(record(app=app, kubernetes=[])),
        "line 3: a Deis app's namespace: invalid app name 'evil.>'": good + body(hostile),
        'line 3: `date` "later" is not a time': good + body(record(app=app, date="later")),
        "line 1: a record must be a JSON object, not an array": json.dumps(
            [record(app=app)]
        ).encode(),
        "the body holds no record": b"\n\n",
    }


async def test_a_bad_batch_is_a_400_naming_the_line_and_stores_nothing(bench, app_name):
    async with endpoint(bench) as client:
        for detail, payload in _bad_bodies(app_name).items():
            answer = await post(client, payload)
            assert answer.status_code == 400, detail
            assert answer.json()["detail"].startswith(detail), answer.json()
        # What the bad batches held before their bad line was not published either.
        assert await bench.stored(app_name) == 0
        good = await post(client, body(record(app=app_name)))
        assert good.status_code == 201
        assert await bench.stored(app_name) == 1


@pytest.mark.parametrize(
    "headers",
    [{"Authorization": ""}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}],
    ids=["missing", "wrong", "no-scheme"],
)
async def test_without_the_token_a_401(bench, app_name, headers):
    async with endpoint(bench) as client:
        answer = await post(client, body(record(app=app_name)), **headers)
        assert answer.status_code == 401
        assert answer.headers["www-authenticate"] == "Bearer"
        lower = await post(client, body(record(app=app_name)), Authorization=f"bearer {TOKEN}")
        assert lower.status_code == 201
        assert await bench.stored(app_name) == 1


async def test_without_a_token_setting_no_token_is_asked(bench, app_name):
    async with endpoint(bench, ingest_token=None) as client:
        answer = await post(client, body(record(app=app_name)), Authorization="")
        assert answer.status_code == 201


async def test_content_types_and_encodings(bench, app_name):
    sent = 0

    def payload() -> bytes:  # a body of its own each time: the same body is stored once
        nonlocal sent
        sent += 1
        return body(record(app=app_name, log=f"body {sent}\n"))

    async with endpoint(bench) as client:
        for media in (
            "application/json",
            "application/x-ndjson",
            "application/json; charset=utf-8",
        ):
            assert (await post(client, payload(), **{"Content-Type": media})).status_code == 201
        msgpack = await post(client, payload(), **{"Content-Type": "application/msgpack"})
        assert msgpack.status_code == 415
        assert "format to json_lines" in msgpack.json()["detail"]
        for media in ("text/plain", "application/x-www-form-urlencoded", ""):
            assert (await post(client, payload(), **{"Content-Type": media})).status_code == 415
        zipped = await post(client, gzip.compress(payload()), **{"Content-Encoding": "gzip"})
        assert zipped.status_code == 201
        assert (await post(client, payload(), **{"Content-Encoding": "br"})).status_code == 415
        broken = await post(client, b"not gzip at all", **{"Content-Encoding": "gzip"})
        assert broken.status_code == 400
        cut = await post(client, gzip.compress(payload())[:-12], **{"Content-Encoding": "gzip"})
        assert cut.status_code == 400
        stored = await read_back(bench, app_name)
        assert [x.message for x in stored] == ["body 1", "body 2", "body 3", "body 8"]
        wrong_method = await client.get(ingesting.PATH, headers=JSON)
        assert wrong_method.status_code == 405


async def test_a_body_over_the_limit_is_a_413(bench, app_name):
    limit = 4096
    async with endpoint(bench, ingest_max_body=limit) as client:
        big = body(*(record(app=app_name, log="x" * 500) for _ in range(8)))
        assert len(big) > limit
        assert (await post(client, big)).status_code == 413

        async def streamed() -> AsyncIterator[bytes]:  # no Content-Length: counted as read
            for _ in range(8):
                yield body(record(app=app_name, log="x" * 500))

        answer = await client.post(ingesting.PATH, content=streamed(), headers=JSON)
        assert answer.status_code == 413
        bomb = gzip.compress(body(record(app=app_name, log="y" * 50_000)))
        assert len(bomb) < limit
        unzipped = await post(client, bomb, **{"Content-Encoding": "gzip"})
        assert unzipped.status_code == 413
        assert "once gunzipped" in unzipped.json()["detail"]
        assert await bench.stored(app_name) == 0


async def test_while_nats_is_away_a_503_and_the_retry_is_stored_once(bench, app_name, until):
    payload = body(*(record(app=app_name, log=f"line {n}\n") for n in range(3)))
    async with endpoint(bench, ingest_publish_timeout=1.0) as client:
        bench.server.stop()
        away = await post(client, payload)
        assert away.status_code == 503
        assert away.headers["retry-after"] == "5"
        bench.server.start()

        async def stored_again() -> bool:
            return (await post(client, payload)).status_code == 201

        await until(stored_again)
        assert await bench.stored(app_name) == 3


def _sample(metrics: str, name: str) -> float:
    for text in metrics.splitlines():
        if text.startswith(name + " "):
            return float(text.split()[-1])
    return 0.0


async def test_lines_are_counted_on_the_metrics(bench, app_name):
    health = free_port()
    async with endpoint(bench, health_port=health) as client:
        await post(client, body(record(app=app_name), record(app=app_name), record(app="x-y")))
        await post(client, body(record(app=app_name, kind="run", pod=f"{app_name}-run-ab12c")))
        await post(client, body(record(app=app_name)) + b"nope\n")
        await post(client, body(record(app=app_name)), Authorization="Bearer wrong")
        async with httpx.AsyncClient() as plain:
            metrics = (await plain.get(f"http://127.0.0.1:{health}/metrics")).text
    assert _sample(metrics, 'deis_logger_ingest_lines_total{outcome="accepted"}') == 3
    assert _sample(metrics, 'deis_logger_ingest_lines_total{outcome="dropped"}') == 1
    assert _sample(metrics, 'deis_logger_ingest_lines_total{outcome="rejected"}') == 2
    assert _sample(metrics, 'deis_logger_ingest_requests_total{status="201"}') == 2
    assert _sample(metrics, 'deis_logger_ingest_requests_total{status="400"}') == 1
    assert _sample(metrics, 'deis_logger_ingest_requests_total{status="401"}') == 1


async def test_the_endpoint_is_off_unless_its_port_is_set(bench):
    async with bench.logger(archive=False) as running:
        assert running.ingest is None
