r"""Fluent Bit's records as `LogLine`s: the pure half of the ingest endpoint (`ingesting`).

On Kubernetes a Fluent Bit DaemonSet tails every container's log (`tail` input, `cri` or
`docker` parser), adds the pod's metadata (`kubernetes` filter) and posts batches with its
`http` output in `format json_lines`: one JSON object per line, such as

    {"date": 1714564800.123456, "time": "2024-05-01T12:00:00.123456789Z", "stream": "stdout",
     "log": "listening on 5000\n", "kubernetes": {"pod_name": "shop-web-6f7d9c8b5-x2x7k",
     "namespace_name": "shop", "labels": {"heritage": "deis", "app": "shop", "type": "web",
     "version": "v3"}, "container_name": "web", "host": "node-1", ...}}

`parse` turns a whole body into the lines to publish, or refuses it whole (`InvalidBatch`,
naming the first bad line), so that a batch is never half written.

A record is a line of a Deis app when its pod's labels say `heritage: deis`, carry an `app`
label equal to the pod's namespace (the scheduler runs each app in a namespace named after
it) and a `type` label; it becomes

    LogLine(app=<namespace>, process=<type>.<version>.<pod suffix>, message=<log>, ts=<time>)

* `process` is named as Deis Workflow's logger named it: the `type` label, the `version`
  label (`v3`; left out when the pod has none) and the last `-`-separated part of the pod
  name, the part Kubernetes makes up per pod: `web.v3.x2x7k` for pod
  `shop-web-6f7d9c8b5-x2x7k`, which `deis ps` lists. `LogLine` has no field for the
  release, so the process name carries it as Workflow's did.
* `message` is `log` without its line ending (one `\n`, then one `\r`), cut to 16 KiB of
  UTF-8 as the scheduler's shipper cuts lines.
* `ts` is the record's time: Fluent Bit's date key (`date`, as `json_date_format` writes it:
  `double` or `epoch` seconds, `epoch_ms`, `iso8601` or `java_sql_timestamp`; a number above
  1e11 is taken as milliseconds), else the runtime's `time` string, else the time of receipt.
  Times without a zone are UTC.

Records of other pods (no `kubernetes` key, no labels, not `heritage: deis`, no `app` or
`type` label, or an `app` label naming another namespace) are dropped and counted: the
DaemonSet reads every container of the node, the platform's own included. So are those of
`deis run` pods (`type: run`), whose output is the command's answer.

Refused, as the whole batch: a line that is not JSON or not an object, a `log` that is missing
or not a string, a `date` or `time` that is not a time, `kubernetes` or its `labels` not an
object, label values, `namespace_name` or `pod_name` not strings, and on a Deis app's record
an app name, process type, version or pod name that is not valid. Blank lines are skipped.
Bytes that are not UTF-8 become U+FFFD rather than failing the batch: one app printing binary
must not cost the lines of every app on its node.

Each line's `id` (its `Nats-Msg-Id`) is derived from the body and the line's number, so a batch
Fluent Bit sends again after a failure is stored once within the stream's duplicate window.
"""

import hashlib
import json
import math
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import pydantic

from deis_shared import appnames, errors, processtypes
from deis_shared.events import logs

HERITAGE: Final = "deis"
"""The `heritage` label value of the pods the scheduler makes."""

ONE_OFF: Final = "run"
"""The `type` label of `deis run` pods: their output is the command's answer, not the app's
log (the local backend does not log it either)."""

MAX_MESSAGE: Final = 16 * 1024
"""Bytes of UTF-8 of one message at most, as the scheduler's shipper keeps."""

_MILLISECONDS_ABOVE: Final = 1e11
"""A numeric date above this is in milliseconds (1e11 seconds is the year 5138)."""

_VERSION = re.compile(r"v[0-9]{1,9}")
_POD_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_MAX_POD_NAME: Final = 253
_SURROGATES = re.compile("[\ud800-\udfff]")
_IDS: Final = uuid.UUID("6c0f3a52-8f0e-4c55-9a43-1f2d4a7e9b10")
"""Namespace of the lines' ids (uuid5 of the body's digest and the line number)."""


class InvalidBatch(errors.PermanentError):
    """A body with a line that is not a valid record; nothing of it may be published."""

    def __init__(self, *, line: int, reason: str) -> None:
        super().__init__(f"line {line}: {reason}" if line else reason)
        self.line = line
        """The 1-based number of the bad line in the body; 0 for the body as a whole."""
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Batch:
    """What a body holds: the lines of Deis apps, and how many records were dropped."""

    lines: tuple[logs.LogLine, ...]
    dropped: int

    @property
    def records(self) -> int:
        """Records in the body, blank lines not counted."""
        return len(self.lines) + self.dropped


class _Refused(ValueError):
    """One record's fault; `parse` adds the line number."""


def parse(body: bytes, *, received: datetime) -> Batch:
    """Validate a `json_lines` body whole and map its records to log lines.

    Args:
        body: The request body, uncompressed.
        received: When it arrived; the time of records that carry none (timezone-aware).

    Returns:
        The lines to publish, in the body's order, and the count of dropped records.

    Raises:
        InvalidBatch: The body holds no record, or a line is not a valid record.
    """
    digest = hashlib.sha256(body).hexdigest()
    lines: list[logs.LogLine] = []
    dropped = 0
    for number, raw in enumerate(body.split(b"\n"), start=1):
        if not raw.strip():
            continue
        try:
            record = _load(raw)
            line = to_line(
                record, received=received, line_id=uuid.uuid5(_IDS, f"{digest}:{number}")
            )
        except _Refused as refused:
            raise InvalidBatch(line=number, reason=str(refused)) from None
        if line is None:
            dropped += 1
        else:
            lines.append(line)
    if not lines and not dropped:
        raise InvalidBatch(line=0, reason="the body holds no record (expected JSON lines)")
    return Batch(lines=tuple(lines), dropped=dropped)


def _load(raw: bytes) -> Mapping[str, Any]:
    try:
        record = json.loads(raw.decode("utf-8", "replace"))
    except ValueError as error:  # JSONDecodeError is a ValueError
        raise _Refused(f"not JSON: {error}") from None
    if not isinstance(record, dict):
        raise _Refused(
            f"a record must be a JSON object, not {_kind(record)} "
            "(is the http output's format json_lines?)"
        )
    return record


def to_line(
    record: Mapping[str, Any], *, received: datetime, line_id: uuid.UUID | None = None
) -> logs.LogLine | None:
    """Map one Fluent Bit record to a log line (see the module docstring for the rules).

    Args:
        record: One decoded record.
        received: The time of a record that carries none (timezone-aware).
        line_id: The line's id; a new random one when None.

    Returns:
        The line, or None when the record is not a Deis app's.

    Raises:
        ValueError: The record is not valid; the message says why in one line.
    """
    if "log" not in record:
        raise _Refused("`log` is missing")
    log = record["log"]
    if not isinstance(log, str):
        raise _Refused(f"`log` must be a string, not {_kind(log)}")
    ts = _time(record, received=received)
    kube = record.get("kubernetes")
    if kube is None:
        return None
    if not isinstance(kube, dict):
        raise _Refused(f"`kubernetes` must be an object, not {_kind(kube)}")
    labels = kube.get("labels")
    if labels is None:
        return None
    if not isinstance(labels, dict):
        raise _Refused(f"`kubernetes.labels` must be an object, not {_kind(labels)}")
    for key, value in labels.items():
        if not isinstance(value, str):
            raise _Refused(f"label {key!r} must be a string, not {_kind(value)}")
    namespace = _string(kube, "namespace_name")
    app, kind = labels.get("app"), labels.get("type")
    if labels.get("heritage") != HERITAGE or app is None or kind is None or app != namespace:
        return None
    if kind == ONE_OFF:
        return None
    try:
        appnames.validate_app_name(app)
    except appnames.InvalidAppName as error:
        raise _Refused(f"a Deis app's namespace: {error}") from None
    if not processtypes.is_valid(kind):
        raise _Refused(f"label `type` {kind!r} is not a process type")
    parts = [kind]
    version = labels.get("version")
    if version is not None:
        if _VERSION.fullmatch(version) is None:
            raise _Refused(f"label `version` {version!r} is not a release version (v<N>)")
        parts.append(version)
    pod = _string(kube, "pod_name")
    if pod is None:
        raise _Refused("`kubernetes.pod_name` is missing")
    if len(pod) > _MAX_POD_NAME or _POD_NAME.fullmatch(pod) is None:
        raise _Refused(f"`kubernetes.pod_name` {pod!r} is not a pod name")
    parts.append(pod.rsplit("-", 1)[-1])
    try:
        return logs.LogLine(
            id=line_id or uuid.uuid4(),
            ts=ts,
            app=app,
            process=".".join(parts),
            message=_message(log),
        )
    except pydantic.ValidationError as error:
        problems = "; ".join(e["msg"] for e in error.errors(include_url=False))
        raise _Refused(f"not a valid log line: {problems}") from None


def _string(kube: Mapping[str, Any], key: str) -> str | None:
    value = kube.get(key)
    if value is not None and not isinstance(value, str):
        raise _Refused(f"`kubernetes.{key}` must be a string, not {_kind(value)}")
    return value


def _time(record: Mapping[str, Any], *, received: datetime) -> datetime:
    for key in ("date", "time"):
        value = record.get(key)
        if value is not None:
            parsed = _parse_time(value)
            if parsed is None:
                raise _Refused(f"`{key}` {_shown(value)} is not a time")
            return parsed
    return received


def _parse_time(value: object) -> datetime | None:
    try:
        if isinstance(value, bool):
            return None
        if isinstance(value, int | float):
            seconds = float(value)
            if not math.isfinite(seconds):
                return None
            if abs(seconds) > _MILLISECONDS_ABOVE:
                seconds /= 1000
            return datetime.fromtimestamp(seconds, UTC)
        if isinstance(value, str):
            parsed = datetime.fromisoformat(value.strip())
            return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (ValueError, OverflowError, OSError):
        return None
    return None


def _message(log: str) -> str:
    message = log.removesuffix("\n").removesuffix("\r")
    if _SURROGATES.search(message) is not None:  # escaped in the JSON; not encodable as UTF-8
        message = _SURROGATES.sub("\ufffd", message)
    if len(message) * 4 <= MAX_MESSAGE:  # a character is at most 4 bytes
        return message
    return message.encode()[:MAX_MESSAGE].decode(errors="ignore")


def _kind(value: object) -> str:
    if value is None:
        return "null"
    return {
        bool: "a boolean",
        int: "a number",
        float: "a number",
        str: "a string",
        list: "an array",
        dict: "an object",
    }.get(type(value), type(value).__name__)


def _shown(value: object) -> str:
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."
