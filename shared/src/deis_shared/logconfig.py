"""Structured logging: one line per event, JSON when stderr is not a terminal.

Services log through the standard `logging` module (`logging.getLogger(__name__)`); extra
fields passed with `extra={...}` become keys of the JSON object. A traceback stays on the same
line (JSON escapes its newlines), so a log shipper never splits one event into several.
"""

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

# Attributes every LogRecord has; anything else on a record came from `extra=`.
_RECORD_FIELDS = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys() | {"message", "asctime"}
)


class JsonFormatter(logging.Formatter):
    """Format a record as one JSON object: ts, level, service, logger, event, extras, exc."""

    def __init__(self, *, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        """Render `record` as one JSON line."""
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "event": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _RECORD_FIELDS and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class ConsoleFormatter(logging.Formatter):
    """A readable line for people at a terminal: time, level, logger, event, extras."""

    def format(self, record: logging.LogRecord) -> str:
        """Render `record` as one readable line (a traceback follows on its own lines)."""
        time = datetime.fromtimestamp(record.created, UTC).strftime("%H:%M:%S.%f")[:-3]
        extras = " ".join(
            f"{key}={value}"
            for key, value in vars(record).items()
            if key not in _RECORD_FIELDS and not key.startswith("_")
        )
        line = f"{time} {record.levelname:<7} {record.name}: {record.getMessage()}"
        if extras:
            line = f"{line}  {extras}"
        if record.exc_info:
            line = f"{line}\n{self.formatException(record.exc_info)}"
        return line


def configure_logging(
    *,
    service: str,
    level: str = "INFO",
    json_lines: bool | None = None,
    stream: TextIO | None = None,
) -> logging.Handler:
    """Send every log record of the process to `stream` (stderr by default), one line each.

    Args:
        service: the service name written into every JSON line.
        level: the lowest level written.
        json_lines: force JSON (True) or console lines (False); None picks JSON unless the
            stream is a terminal.
        stream: where lines go.

    Returns:
        The installed handler, which replaces any handler on the root logger.
    """
    stream = stream or sys.stderr
    if json_lines is None:
        json_lines = not stream.isatty()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter(service=service) if json_lines else ConsoleFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    return handler
