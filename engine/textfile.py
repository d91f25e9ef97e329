"""Reading the text files a person hands pullguard (policies, PolicyTest files, image lists).

One rule for all of them: UTF-8, a leading byte-order mark dropped, and a file that is not
UTF-8 is reported where a person can find the bad byte (`p.yaml:3:7: not UTF-8 text (byte
0xd7)`), not by Python's codec message with a byte offset.
"""

from __future__ import annotations

import sys
from pathlib import Path

_BOM = b"\xef\xbb\xbf"


class TextFileError(ValueError):
    """A file that is not UTF-8 text; `line` and `column` (1-based, in characters) locate the
    first byte that does not decode."""

    def __init__(self, path: str, reason: str, line: int, column: int):
        super().__init__(f"{path}:{line}:{column}: {reason}")
        self.path = path
        self.reason = reason
        self.line = line
        self.column = column


def decode_text(data: bytes, path: str) -> str:
    """`data` as UTF-8 text (without a leading BOM), or TextFileError at the first bad byte."""
    body = data[len(_BOM):] if data.startswith(_BOM) else data
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _located(body, exc, path) from None


def read_text(path: str | Path) -> str:
    """The text of a file ('-' is standard input). OSError passes through for the caller to word."""
    shown = str(path)
    if shown == "-":
        stream = getattr(sys.stdin, "buffer", None)
        if stream is None:  # a text stream put in place of stdin (tests, embedding)
            return sys.stdin.read()
        return decode_text(stream.read(), "<stdin>")
    with open(path, "rb") as handle:
        return decode_text(handle.read(), shown)


def _located(body: bytes, exc: UnicodeDecodeError, path: str) -> TextFileError:
    start = exc.start
    line_start = body.rfind(b"\n", 0, start) + 1
    line = body.count(b"\n", 0, start) + 1
    column = len(body[line_start:start].decode("utf-8")) + 1  # all before the bad byte decodes
    return TextFileError(path, f"not UTF-8 text (byte 0x{body[start]:02x})", line, column)
