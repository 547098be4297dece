"""`.env` files for `config:pull` and `config:push`.

Reading accepts what people write by hand: blank lines and `#` comments, an `export `
prefix, single-quoted values taken literally, double-quoted values with backslash escapes
(newline, quote, backslash), and unquoted values with an inline ` #` comment stripped. Writing
quotes only the values that need it, so that reading the file back gives the same values.
"""

import re

from deis_cli import errors

_LINE = re.compile(r"^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$", re.DOTALL)
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\", "$": "$"}
_PLAIN = re.compile(r"^[^\s\"'#\\]*$")


def parse(text: str, *, source: str = ".env") -> dict[str, str]:
    """The `KEY=value` assignments of a `.env` file, in order.

    Raises:
        InvalidInput: A line is neither blank, a comment nor an assignment, or a quote is open.
    """
    values: dict[str, str] = {}
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index].strip()
        index += 1
        if not line or line.startswith("#"):
            continue
        matched = _LINE.match(line)
        if matched is None:
            raise errors.InvalidInput(f"{source} line {index}: expected KEY=value, got {line!r}")
        key, raw = matched.group(1), matched.group(2)
        if raw[:1] in ("'", '"'):
            quote = raw[0]
            # A quoted value may span lines: read on until the closing quote.
            while _closing(raw, quote) < 0 and index < len(lines):
                raw += "\n" + lines[index]
                index += 1
            end = _closing(raw, quote)
            if end < 0:
                raise errors.InvalidInput(f"{source}: unterminated {quote} quote for {key}")
            body = raw[1:end]
            values[key] = body if quote == "'" else _unescape(body)
        else:
            values[key] = re.split(r"\s+#", raw, maxsplit=1)[0].strip()
    return values


def _closing(raw: str, quote: str) -> int:
    position = 1
    while position < len(raw):
        char = raw[position]
        if char == "\\" and quote == '"':
            position += 2
            continue
        if char == quote:
            return position
        position += 1
    return -1


def _unescape(body: str) -> str:
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), "\\" + m.group(1)), body)


def format_value(value: str) -> str:
    """`value` as it should appear after `KEY=`."""
    if _PLAIN.match(value):
        return value
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    escaped = escaped.replace("\n", "\\n").replace("\r", "\\r")
    return f'"{escaped}"'


def render(values: dict[str, str]) -> str:
    """A `.env` file holding `values`, sorted by key."""
    return "".join(f"{key}={format_value(values[key])}\n" for key in sorted(values))
