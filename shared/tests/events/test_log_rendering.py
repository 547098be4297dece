"""Rendering stored log lines: the security boundary between any bytes and a terminal."""

from datetime import UTC, datetime

import pytest

from deis_shared import wire
from deis_shared.events import logs

STORED = datetime(2024, 5, 1, 13, 0, 0, tzinfo=UTC)
WRITTEN = datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)


def _line(message: str, process: str = "web.1") -> logs.LogLine:
    return logs.LogLine(app="myapp", process=process, message=message, ts=WRITTEN)


def _render(data: bytes) -> str:
    return logs.render(data, subject="deis.logs.myapp", stored=STORED)


def test_a_valid_line_renders_as_deis_prints_it() -> None:
    assert _render(wire.encode(_line("listening on 5000"))) == (
        "2024-05-01T12:00:00.123456Z myapp[web.1]: listening on 5000"
    )
    platform = wire.encode(_line("bob deployed abc1234", process="controller"))
    assert _render(platform) == "2024-05-01T12:00:00.123456Z deis[controller]: bob deployed abc1234"


@pytest.mark.parametrize(
    ("message", "shown"),
    [
        ("two\nlines", "two\\nlines"),
        ("over\rwrite", "over\\rwrite"),
        ("\x1b[31mred\x1b[0m", "\\x1b[31mred\\x1b[0m"),
        ("\x1b]0;pwned\x07title", "\\x1b]0;pwned\\x07title"),
        ("c1 \x9b2J csi", "c1 \\x9b2J csi"),
        ("nul\x00bell\x07del\x7f", "nul\\x00bell\\x07del\\x7f"),
        ("sep\u2028para\u2029", "sep\\u2028para\\u2029"),
        ("bidi \u202eevil", "bidi \\u202eevil"),
        ("tab\tstays, ünïcödé 🎉 too", "tab\tstays, ünïcödé 🎉 too"),
    ],
)
def test_controls_are_shown_as_escapes_on_one_line(message: str, shown: str) -> None:
    rendered = _render(wire.encode(_line(message)))
    assert rendered == f"2024-05-01T12:00:00.123456Z myapp[web.1]: {shown}"
    assert rendered.splitlines() == [rendered]
    rendered.encode()  # printable as UTF-8


def test_a_lone_surrogate_escaped_in_json_is_shown_escaped() -> None:
    data = wire.encode(_line("lone XX surrogate")).replace(b"XX", b"\\ud800")
    rendered = _render(data)
    assert rendered == "2024-05-01T12:00:00.123456Z myapp[web.1]: lone \\ud800 surrogate"
    rendered.encode()


def test_a_huge_line_is_cut_on_a_character_boundary_with_a_marker() -> None:
    message = "é" * 20_000  # 40,000 bytes, two per character
    text = _render(wire.encode(_line(message))).split(": ", 1)[1]
    head, marker = text.split(" [cut: ")
    assert head == "é" * (logs.MAX_MESSAGE_BYTES // 2)
    assert marker == f"{40_000 - logs.MAX_MESSAGE_BYTES} more bytes]"
    odd = "x" + "€" * 10_000  # 3-byte characters after one byte: the cut falls inside one
    head = logs.cut(odd).split(" [cut: ")[0]
    assert len(head.encode()) <= logs.MAX_MESSAGE_BYTES
    assert odd.startswith(head)
    assert len(head.encode()) > logs.MAX_MESSAGE_BYTES - 3


def test_a_line_at_the_limit_is_whole() -> None:
    message = "a" * logs.MAX_MESSAGE_BYTES
    assert logs.cut(message) == message
    assert logs.cut(message + "b").endswith(" [cut: 1 more bytes]")


def test_invalid_utf8_inside_a_line_is_replaced_not_dropped() -> None:
    data = wire.encode(_line("before XX after")).replace(b"XX", b"\xff\xfe")
    assert _render(data) == "2024-05-01T12:00:00.123456Z myapp[web.1]: before \ufffd\ufffd after"


@pytest.mark.parametrize(
    ("data", "shown"),
    [
        (b"plain text from fluent-bit\n", "plain text from fluent-bit"),
        (b"\x00\x01binary\xff\xfe\x1b[2J", "\\x00\\x01binary\ufffd\ufffd\\x1b[2J"),
        (b'{"app": "myapp", "message": 3}', '{"app": "myapp", "message": 3}'),
        (b"", ""),
    ],
)
def test_what_is_no_log_line_is_still_rendered_with_the_stream_time(
    data: bytes, shown: str
) -> None:
    assert _render(data) == f"2024-05-01T13:00:00.000000Z myapp[unknown]: {shown}"


def test_a_hostile_subject_cannot_steer_the_terminal() -> None:
    rendered = logs.render(b"x", subject="deis.logs.\x1b[2J", stored=STORED)
    assert rendered == "2024-05-01T13:00:00.000000Z \\x1b[2J[unknown]: x"


def test_huge_garbage_is_cut_too() -> None:
    rendered = _render(b"\xff" * 100_000)
    assert rendered.endswith(" more bytes]")
    assert len(rendered.encode()) < logs.MAX_MESSAGE_BYTES + 100
