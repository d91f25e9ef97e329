"""Pasted text, made regular before anything is recognised in it.

What people paste has been through a terminal and an editor: capped at a size, line endings
unified, lines that a terminal broke at its width put back together, the quotes and spaces a chat or
document program substitutes made plain again, and containerd's logfmt lines (`talosctl logs
cri`) and JSON log or event fields turned into the plain `msg: error` text the other sources print.
"""

from __future__ import annotations

import json
import re
from collections import Counter

# Far more than any event or log excerpt; what lies beyond is not read (the input is untrusted).
MAX_TEXT = 1 << 20
# Terminal widths a hard wrap is recognised at even when only one line reached the edge.
_COMMON_WIDTHS = frozenset({80, 100, 120, 132, 160, 200, 240})

# A quoted value with backslash escapes: logfmt's (Go %q) and JSON's.
_QUOTED = r'"((?:[^"\\\n]|\\.)*)"'
_LOGFMT_MSG = re.compile(r"\bmsg=" + _QUOTED)
_LOGFMT_ERROR = re.compile(r"\berror=" + _QUOTED)
# The JSON fields that carry the message (`kubectl get events -o json`, JSON logs).
_JSON_MESSAGE = re.compile(r'"(?:message|msg)":\s?' + _QUOTED)
_JSON_ERROR = re.compile(r'"(?:error|err)":\s?' + _QUOTED)
# Typographic quotes and spaces that chat programs and editors put in place of the typed ones.
_TYPED = str.maketrans({"\u201c": '"', "\u201d": '"', "\u2018": "'", "\u2019": "'", "\u00a0": " ", "\u202f": " "})
_GO_ESCAPE = re.compile(r"\\(.)")
_GO_ESCAPES = {"n": "\n", "t": "\t", "r": "\n", '"': '"', "\\": "\\"}


def regular(text: str) -> str:
    """`text` as recognition reads it (at most MAX_TEXT characters of it)."""
    text = text[:MAX_TEXT].replace("\r\n", "\n").replace("\r", "\n").translate(_TYPED)
    lines = _unwrap(text.split("\n"))
    return "\n".join(_plain_json(_plain_logfmt(line)) for line in lines)


def _unwrap(lines: list[str]) -> list[str]:
    """Join lines a terminal cut at its width: a line exactly as long as the longest one, when
    several lines are that long or the length is a usual terminal width, continues on the next."""
    lengths = Counter(len(line) for line in lines if len(line) >= 60)
    if not lengths:
        return lines
    width = max(lengths)
    if lengths[width] < 2 and width not in _COMMON_WIDTHS:
        return lines
    out: list[str] = []
    pending = ""
    for line in lines:
        if pending and not line:
            out.append(pending)
            pending = ""
        joined = pending + line
        if len(line) == width:
            pending = joined
        else:
            out.append(joined)
            pending = ""
    if pending:
        out.append(pending)
    return out


def _unquote(value: str) -> str:
    return _GO_ESCAPE.sub(lambda m: _GO_ESCAPES.get(m.group(1), m.group(1)), value)


def _plain_logfmt(line: str) -> str:
    """`time=… level=error msg="PullImage \\"x\\" failed" error="rpc error: …"` ->
    `PullImage "x" failed: rpc error: …` (the error's own newlines restored)."""
    if "msg=" not in line:
        return line
    msg = _LOGFMT_MSG.search(line)
    if msg is None:
        return line
    text = _unquote(msg.group(1))
    error = _LOGFMT_ERROR.search(line)
    if error is not None:
        text += ": " + _unquote(error.group(1))
    return text


def json_text(quoted: str) -> str:
    """A JSON string's text from between its quotes (as written, when it does not decode)."""
    try:
        value = json.loads(f'"{quoted}"')
    except ValueError:
        return _unquote(quoted)
    return value if isinstance(value, str) else quoted


def _plain_json(line: str) -> str:
    """`{"message": "Failed to pull image \\"x\\": …"}` -> `Failed to pull image "x": …`."""
    if '"message"' not in line and '"msg"' not in line:
        return line
    message = _JSON_MESSAGE.search(line)
    if message is None:
        return line
    text = json_text(message.group(1))
    error = _JSON_ERROR.search(line)
    if error is not None:
        text += ": " + json_text(error.group(1))
    return text
