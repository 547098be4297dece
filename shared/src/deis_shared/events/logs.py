r"""Log lines: one message per line of app or platform output, on the JetStream stream `LOGS`.

Subject: `deis.logs.<app>`. Writers are the scheduler (local backend, one line per line of a
process's stdout/stderr), fluent-bit (Kubernetes) and the controller (platform lines such as
`bob deployed abc1234`, process `controller`). The logger stores them, with a per-subject limit
acting as a per-app ring buffer, and renders them as `<RFC 3339 time> <app>[<process>]: <message>`.
This is not an event stream, so it lives beside the events only for its shape.

Rendering is a security boundary (`render`, `safe_text`): whatever a process printed, or
whatever anyone published on `deis.logs.<app>`, ends up on a developer's terminal. So:

* one stored message is always one printed line: newlines, carriage returns and every other
  control character (ESC included, so ANSI sequences cannot move the reader's cursor, recolour
  or retitle their terminal; C1 controls such as the one-byte CSI too), Unicode line separators
  and bidirectional overrides are shown as visible escapes (`\n`, `\x1b`, `\u202e`); tabs
  stay;
* a message over `MAX_MESSAGE_BYTES` of UTF-8 is cut on a character boundary and ends with a
  visible marker saying how much was cut;
* a stored message that is not a valid `LogLine` (fluent-bit's raw bytes, garbage, invalid
  UTF-8 inside otherwise valid JSON) is still shown, never dropped: invalid UTF-8 becomes
  U+FFFD, and the time is the stream's.
"""

import json
import re
from datetime import datetime
from typing import Final, Literal

import pydantic
from pydantic import Field

from deis_shared import appnames, wire

MAX_MESSAGE_BYTES: Final = 16 * 1024
"""Bytes of UTF-8 of one message shown at most; the rest is cut off behind a marker."""

UNKNOWN_PROCESS: Final = "unknown"
"""The process shown for a stored message that is not a valid `LogLine`."""

STREAM = "LOGS"
"""Name of the JetStream stream holding log lines."""

SUBJECTS = "deis.logs.>"
"""Subject filter of the `LOGS` stream."""


def subject(app: str) -> str:
    """Subject of the log lines of one app.

    Args:
        app: The app name; validated.

    Returns:
        `deis.logs.<app>`.

    Raises:
        InvalidAppName: `app` is not a valid app name.
    """
    return f"deis.logs.{appnames.validate_app_name(app)}"


class LogLine(wire.Message):
    """One line of output; `ts` is when the line was written."""

    schema_version: Literal[1] = Field(1, alias="schema")

    app: appnames.AppName
    process: str = Field(pattern=r"^[a-z0-9]+([.-][a-z0-9]+)*$", max_length=128)
    """`<type>.<index>` for app processes (`web.1`), or a platform source without a dot
    (`controller`, `builder`), which Deis prints as `deis[<source>]`."""
    message: str
    """The line, without its line ending."""

    def format(self) -> str:
        """Render the line as `deis logs` prints it.

        Returns:
            `<RFC 3339 time> <app>[<process>]: <message>`, e.g.
            `2024-05-01T12:00:00.123456Z myapp[web.1]: listening on 5000`; a platform line
            (process without a dot) as `... deis[controller]: bob deployed abc1234`.
        """
        source = self.app if self.is_app_output else "deis"
        return f"{_stamp(self.ts)} {source}[{self.process}]: {safe_text(self.message)}"

    @property
    def is_app_output(self) -> bool:
        """Whether an app process wrote the line (`web.1`), rather than the platform."""
        return "." in self.process


_SUBJECT_PREFIX = "deis.logs."

_UNSAFE = re.compile(
    "[\x00-\x08\x0a-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e"
    "\u2066-\u2069\ud800-\udfff]"
)
"""Characters that could break a line or steer a terminal: all but tab of C0, DEL, C1, line
and paragraph separators, bidirectional marks and overrides, lone surrogates."""

_NAMED = {"\n": "\\n", "\r": "\\r"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _stamp(ts: datetime) -> str:
    return ts.isoformat(timespec="microseconds").replace("+00:00", "Z")


def cut(message: str) -> str:
    """Cut `message` to `MAX_MESSAGE_BYTES` of UTF-8 on a character boundary, with a marker.

    Args:
        message: Any text (lone surrogates are counted as three bytes each).

    Returns:
        `message` unchanged when short enough, else its head and ` [cut: <n> more bytes]`.
    """
    if len(message) * 4 <= MAX_MESSAGE_BYTES:  # a character is at most 4 bytes
        return message
    encoded = message.encode("utf-8", "surrogatepass")
    if len(encoded) <= MAX_MESSAGE_BYTES:
        return message
    end = MAX_MESSAGE_BYTES
    while end > 0 and encoded[end] & 0xC0 == 0x80:  # a continuation byte: back to the start
        end -= 1
    head = encoded[:end].decode("utf-8", "surrogatepass")
    return f"{head} [cut: {len(encoded) - end} more bytes]"


def safe_text(message: str) -> str:
    r"""The message as it may be printed: cut to size, one line, no terminal controls.

    Args:
        message: Any text, hostile or not.

    Returns:
        `message` cut (`cut`), with every control character but tab, DEL, C1 controls, Unicode
        line separators, bidirectional controls and lone surrogates shown as `\n`, `\r`,
        `\xNN` or `\uNNNN`.
    """
    text = cut(message)
    if _UNSAFE.search(text) is None:
        return text
    return _UNSAFE.sub(_escape, text)


def render(data: bytes, *, subject: str, stored: datetime) -> str:
    """Render one stored message of `LOGS` as `deis logs` prints it; never fails.

    Args:
        data: The message's payload, as stored: a `LogLine`, or anything at all.
        subject: Its subject, `deis.logs.<app>`; the app shown when `data` is no `LogLine`.
        stored: When the stream stored it; the time shown when `data` is no `LogLine`.

    Returns:
        `LogLine.format()` of the message, else
        `<stored time> <app>[unknown]: <the bytes as UTF-8, invalid bytes replaced>`; one
        line either way.
    """
    line = _decode(data)
    if line is not None:
        return line.format()
    app = safe_text(subject.removeprefix(_SUBJECT_PREFIX))
    text = data.decode("utf-8", "replace").removesuffix("\n").removesuffix("\r")
    return f"{_stamp(stored)} {app}[{UNKNOWN_PROCESS}]: {safe_text(text)}"


def _decode(data: bytes) -> LogLine | None:
    try:
        return wire.decode(data, LogLine)
    except wire.InvalidPayload:
        pass
    try:
        # Valid JSON around invalid UTF-8 (a byte of binary output that slipped through) or
        # escaped lone surrogates, which pydantic's parser refuses: replace the bad bytes, let
        # `json` keep the surrogates (`safe_text` shows them), and keep the line's own time and
        # process.
        return LogLine.model_validate(json.loads(data.decode("utf-8", "replace")), extra="ignore")
    except (ValueError, pydantic.ValidationError):  # JSONDecodeError is a ValueError
        return None
