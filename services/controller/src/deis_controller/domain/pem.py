"""PEM text as users upload it: a sequence of blocks and nothing but whitespace around them.

`cryptography` (like OpenSSL) reads the first block of the wanted kind and ignores anything
else, so a certificate followed by 10 MiB of junk, or preceded by a stray key, would load. What
is stored is handed to nginx as it is, so `blocks` is strict instead: only ASCII, only spaces,
tabs and line breaks outside the blocks, only base64 and whitespace inside them, every BEGIN
line closed by the END line of the same label, and both on lines of their own (OpenSSL reads
PEM line by line: a block that follows another on the same line would be lost to nginx).

It scans with `str.find`, in one pass, rather than a backtracking regular expression, so its
time is linear in the text's length. It does not decide what the blocks mean: `certificates`
and `privatekeys` load them.
"""

import base64
import binascii
import re
import string
from dataclasses import dataclass

_BEGIN = "-----BEGIN "
_DASHES = "-----"
_WHITESPACE = frozenset(" \t\r\n")
_BASE64 = frozenset(string.ascii_letters + string.digits + "+/=") | _WHITESPACE
_LABEL = re.compile(r"[A-Z0-9]+(?:[ -][A-Z0-9]+)*", re.ASCII)
_MAX_LABEL = 64


class PemError(ValueError):
    """The text is not PEM blocks separated by whitespace; the message says why."""


@dataclass(frozen=True)
class Block:
    """One PEM block."""

    label: str
    """What follows `-----BEGIN `, such as `CERTIFICATE`."""
    text: str
    """The block from its BEGIN line to its END line, as given."""
    der: bytes
    """The decoded base64 body."""


def _outside(text: str, *, where: str) -> None:
    if not _WHITESPACE.issuperset(text):
        raise PemError(f"unexpected text {where}; only whitespace may surround the PEM blocks")


def _decode(body: str, *, label: str) -> bytes:
    if "Proc-Type:" in body or "DEK-Info:" in body:
        raise PemError(f"the {label} block is encrypted; upload it without a passphrase")
    if not _BASE64.issuperset(body):
        raise PemError(f"the {label} block holds characters that are not base64")
    compact = "".join(body.split())
    try:
        der = base64.b64decode(compact, validate=True)
    except binascii.Error as exc:
        raise PemError(f"the {label} block is not valid base64") from exc
    if not der:
        raise PemError(f"the {label} block is empty")
    return der


def blocks(text: str) -> list[Block]:
    """The PEM blocks of `text`, in order.

    Raises:
        PemError: The text holds no block, something other than whitespace around the blocks,
            anything not ASCII, a malformed BEGIN line, a block without its END line, a BEGIN
            or END line sharing its line, or a body that is not base64 (such as an encrypted
            key's headers).
    """
    if not text.isascii():
        raise PemError("the text holds characters that are not ASCII")
    found: list[Block] = []
    position = 0
    while (begin := text.find(_BEGIN, position)) != -1:
        _outside(
            text[position:begin],
            where="between PEM blocks" if found else "before the first PEM block",
        )
        if begin > 0 and text[begin - 1] != "\n":
            raise PemError("a BEGIN line does not start a line")
        label_start = begin + len(_BEGIN)
        label_end = text.find(_DASHES, label_start, label_start + _MAX_LABEL + len(_DASHES))
        label = text[label_start:label_end]
        if label_end == -1 or _LABEL.fullmatch(label) is None:
            raise PemError("a BEGIN line is malformed")
        end_line = f"-----END {label}-----"
        body_start = label_end + len(_DASHES)
        end = text.find(end_line, body_start)
        if end == -1:
            raise PemError(f"the {label} block has no END line")
        body = text[body_start:end]
        if not body.lstrip(" \t").startswith(("\n", "\r\n")) or not body.endswith("\n"):
            raise PemError(
                f"the BEGIN and END lines of the {label} block are not lines of their own"
            )
        found.append(
            Block(
                label=label, text=text[begin : end + len(end_line)], der=_decode(body, label=label)
            )
        )
        position = end + len(end_line)
    if not found:
        raise PemError("no PEM block found")
    _outside(text[position:], where="after the last PEM block")
    return found
