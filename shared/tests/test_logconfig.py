import io
import json
import logging

from deis_shared.logconfig import configure_logging


def _emit(json_lines: bool | None) -> str:
    stream = io.StringIO()
    handler = configure_logging(service="svc", level="INFO", json_lines=json_lines, stream=stream)
    try:
        log = logging.getLogger("deis.test")
        log.debug("hidden")
        log.info("scaled %s", "web=3", extra={"app": "myapp"})
        try:
            raise ValueError("boom\nsecond line")
        except ValueError:
            log.exception("failed")
    finally:
        logging.getLogger().removeHandler(handler)
    return stream.getvalue()


def test_json_lines_carry_event_service_and_extras() -> None:
    lines = _emit(json_lines=True).splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert first["event"] == "scaled web=3"
    assert first["service"] == "svc"
    assert first["app"] == "myapp"
    assert first["level"] == "info"
    assert first["ts"].endswith("+00:00")
    assert "ValueError: boom" in second["exc"]


def test_a_traceback_stays_on_one_line_in_json() -> None:
    output = _emit(json_lines=True)
    assert output.count("\n") == 2


def test_json_is_the_default_when_not_on_a_terminal() -> None:
    first = _emit(json_lines=None).splitlines()[0]
    assert json.loads(first)["event"] == "scaled web=3"


def test_console_lines_are_readable() -> None:
    first = _emit(json_lines=False).splitlines()[0]
    assert "INFO" in first
    assert "deis.test: scaled web=3" in first
    assert "app=myapp" in first
