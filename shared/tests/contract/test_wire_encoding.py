"""The base message: identity, UTC time, schema version, strict writers and tolerant readers."""

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Literal
from uuid import UUID

import pydantic
import pytest
from pydantic import Field

from deis_shared import errors, wire
from deis_shared.events import build, logs
from deis_shared.rpc import logger


def _completed(**overrides: object) -> build.BuildCompleted:
    fields: dict[str, object] = {
        "app": "myapp",
        "build_id": UUID(int=1),
        "sha": "abc1234",
        "slug_key": "slugs/myapp/abc1234.tar.gz",
        "procfile": {"web": "python app.py"},
        "user": "bob",
    }
    fields.update(overrides)
    return build.BuildCompleted.model_validate(fields)


def test_defaults_give_fresh_id_and_aware_utc_now() -> None:
    before = datetime.now(UTC)
    first, second = logger.TailReply(lines=[]), logger.TailReply(lines=[])
    assert first.id != second.id
    assert first.id.version == 4
    assert first.ts.tzinfo is not None
    assert first.ts.utcoffset() == timedelta(0)
    assert before <= first.ts <= datetime.now(UTC)


def test_wire_names_and_rfc3339_utc_time() -> None:
    stamp = datetime(2024, 5, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))
    raw = json.loads(wire.encode(_completed(ts=stamp)))
    assert raw["schema"] == 1
    assert "schema_version" not in raw
    assert raw["ts"] == "2024-05-01T12:00:00Z"


def test_naive_timestamps_are_refused() -> None:
    with pytest.raises(pydantic.ValidationError, match="timezone"):
        _completed(ts=datetime(2024, 5, 1, 12, 0))  # noqa: DTZ001 - the point of the test
    data = wire.encode(_completed()).replace(b'Z"', b'"', 1)
    with pytest.raises(wire.InvalidPayload, match="ts"):
        wire.decode(data, build.BuildCompleted)


def test_messages_are_frozen() -> None:
    message = _completed()
    with pytest.raises(pydantic.ValidationError, match="frozen"):
        message.sha = "def5678"  # type: ignore[misc]


def test_writers_refuse_unknown_fields() -> None:
    with pytest.raises(pydantic.ValidationError, match="extra"):
        _completed(image="myapp:git-abc1234")


def test_readers_ignore_fields_added_by_newer_writers() -> None:
    raw = json.loads(wire.encode(_completed()))
    raw["image"] = "myapp:git-abc1234"
    raw["procfile_extra"] = {"nested": True}
    decoded = wire.decode(json.dumps(raw).encode(), build.BuildCompleted)
    assert decoded == _completed(id=raw["id"], ts=raw["ts"])


def test_readers_ignore_unknown_fields_in_nested_models() -> None:
    line = logs.LogLine(app="myapp", process="web.1", message="hi")
    raw = json.loads(wire.encode(line))
    raw["stream"] = "stderr"
    assert wire.decode(json.dumps(raw).encode(), logs.LogLine) == line


def test_unknown_schema_version_is_refused() -> None:
    raw = json.loads(wire.encode(_completed()))
    raw["schema"] = 2
    with pytest.raises(wire.InvalidPayload, match="schema"):
        wire.decode(json.dumps(raw).encode(), build.BuildCompleted)


def test_missing_schema_reads_as_version_one() -> None:
    raw = json.loads(wire.encode(_completed()))
    del raw["schema"]
    assert wire.decode(json.dumps(raw).encode(), build.BuildCompleted).schema_version == 1


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"not json", id="not-json"),
        pytest.param(b"\xff\xfe", id="not-utf8"),
        pytest.param(b"[]", id="array"),
        pytest.param(b"null", id="null"),
        pytest.param(b'{"app": "myapp"}', id="missing-fields"),
    ],
)
def test_bad_payloads_raise_invalid_payload(data: bytes) -> None:
    with pytest.raises(wire.InvalidPayload, match="invalid BuildCompleted payload") as caught:
        wire.decode(data, build.BuildCompleted)
    assert isinstance(caught.value, errors.PermanentError)
    assert isinstance(caught.value.__cause__, pydantic.ValidationError)


def test_hostile_app_in_payload_is_refused_on_decode() -> None:
    raw = json.loads(wire.encode(_completed()))
    raw["app"] = "evil.>"
    with pytest.raises(wire.InvalidPayload, match="app"):
        wire.decode(json.dumps(raw).encode(), build.BuildCompleted)


def test_payload_of_another_model_is_refused() -> None:
    data = wire.encode(logger.TailRequest(app="myapp"))
    with pytest.raises(wire.InvalidPayload):
        wire.decode(data, build.BuildCompleted)


def test_subclass_pins_its_own_version() -> None:
    class Later(wire.Message):
        schema_version: Literal[2] = Field(2, alias="schema")

    assert json.loads(wire.encode(Later()))["schema"] == 2
    with pytest.raises(wire.InvalidPayload, match="schema"):
        wire.decode(wire.encode(logger.TailReply(lines=[])), Later)
