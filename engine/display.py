"""Text from outside, made safe to show (SPEC §6).

Image lists, registry responses, certificates and policy files are written by someone else:
a terminal escape (ESC), a carriage return or a newline in them must never reach the terminal
raw, where it could recolour the screen, hide text or print a fake row. `escape_control` is the
one place that decides how such text looks; every face (text table, JSON-free messages, TUI)
calls it on outside text before showing it. Backslashes are left alone, so a regular expression
reads as written (`^https://github\\.com/` is not doubled).
"""

from __future__ import annotations

import re

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# C0 controls, DEL, C1 controls, and the Unicode bidirectional overrides and isolates (which
# reorder what a reader sees: "Trojan Source"), plus the line and paragraph separators.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def escape_control(text: str) -> str:
    """`text` with every control character written as an escape (`\\x1b`, `\\n`, `\\u202e`);
    printable text, backslashes included, unchanged."""
    if _UNSAFE.search(text) is None:  # the common case: nothing to do, no copy
        return text
    return _UNSAFE.sub(_escape, text)
