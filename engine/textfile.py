"""Reading the text files a person hands pullguard (policies, PolicyTest files, image lists).

One rule for all of them: UTF-8, a leading byte-order mark dropped, and a file that is not
UTF-8 is reported where a person can find the bad byte (`p.yaml:3:7: not UTF-8 text (byte
0xd7)`), not by Python's codec message with a byte offset.

Nothing is read past a limit (SPEC §6): a path that is not a regular file (a FIFO, a device
such as /dev/zero, a directory) is refused before a byte is read, and a file or standard input
larger than MAX_TEXT_BYTES is refused after reading one byte more than the limit. Both are an
OSError naming the file, which every caller already words as "cannot read …".
"""

from __future__ import annotations

import errno
import os
import stat
import sys
from pathlib import Path
from typing import Any

_BOM = b"\xef\xbb\xbf"
# The largest policy, PolicyTest file or image list read: a 50,000-pod `kubectl get pods -o json`
# is about a tenth of it.
MAX_TEXT_BYTES = 16 * 1024 * 1024
_LIMIT_SHOWN = "16 MiB"


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
    """The text of a file ('-' is standard input). OSError passes through for the caller to word;
    a path that is not a regular file, or text past MAX_TEXT_BYTES, is an OSError too."""
    shown = str(path)
    if shown == "-":
        stream = getattr(sys.stdin, "buffer", None)
        if stream is None:  # a text stream put in place of stdin (tests, embedding)
            text = sys.stdin.read(MAX_TEXT_BYTES + 1)
            if len(text) > MAX_TEXT_BYTES:
                raise _too_large("<stdin>")
            return text
        return decode_text(_read_limited(stream, "<stdin>"), "<stdin>")
    # O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer, forever.
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), shown)
        if not stat.S_ISREG(mode):
            raise OSError(errno.EINVAL, f"not a regular file ({_file_kind(mode)})", shown)
        os.set_blocking(fd, True)
        handle = open(fd, "rb", closefd=True)
    except BaseException:
        os.close(fd)
        raise
    with handle:
        return decode_text(_read_limited(handle, shown), shown)


def _read_limited(stream: Any, shown: str) -> bytes:
    data: bytes = stream.read(MAX_TEXT_BYTES + 1)
    if len(data) > MAX_TEXT_BYTES:
        raise _too_large(shown)
    return data


def _too_large(shown: str) -> OSError:
    return OSError(errno.EFBIG, f"larger than {_LIMIT_SHOWN}, the limit for a policy, test file or image list", shown)


def _file_kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a file"


def _located(body: bytes, exc: UnicodeDecodeError, path: str) -> TextFileError:
    start = exc.start
    line_start = body.rfind(b"\n", 0, start) + 1
    line = body.count(b"\n", 0, start) + 1
    column = len(body[line_start:start].decode("utf-8")) + 1  # all before the bad byte decodes
    return TextFileError(path, f"not UTF-8 text (byte 0x{body[start]:02x})", line, column)
