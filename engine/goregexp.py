"""Go's regexp syntax, checked with RE2: what Talos and Kyverno would refuse to compile.

Go's `regexp` accepts "the syntax accepted by RE2 ... except for \\C" (package regexp doc).
google-re2 accepts `\\C` (any byte) where Go says `invalid escape sequence: \\C`. Compared with
Go 1.19's regexp.Compile on 300,000 random short patterns, `\\C` was the only difference;
named groups `(?<name>re)`, which Go accepts since 1.22 (Talos and Kyverno are built with a
newer Go), are accepted by both.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

# Literal characters, `.`, anchors and escaped punctuation, nothing else (an identity regex
# such as `^https://github\.com/acme/`): always valid for RE2 and Go, so a fleet-sized policy's
# thousands of them are answered without building an RE2 program for each. Short ones only, far
# below RE2's program size limit.
_PLAIN = re.compile(r"(?:[A-Za-z0-9 _/:@=%,;!#&'\"<>~.^$-]|\\[.\\/^$*+?()\[\]{}|-])*")
_PLAIN_MAX = 1000


def _unescaped_any_byte(pattern: str) -> bool:
    """True when `\\C` occurs as an escape (not after an escaped backslash, not in `\\Q...\\E`)."""
    if "\\C" not in pattern:  # the common case, without a walk in Python
        return False
    i, n = 0, len(pattern)
    while i < n:
        if pattern[i] != "\\":
            i += 1
            continue
        following = pattern[i + 1: i + 2]
        if following == "C":
            return True
        if following == "Q":  # literal text up to `\E` (or the end)
            end = pattern.find("\\E", i + 2)
            if end < 0:
                return False
            i = end + 2
            continue
        i += 2  # any other escape, `\\` included, is two characters
    return False


@lru_cache(maxsize=1)
def _options() -> Any:
    import re2

    options = re2.Options()
    options.log_errors = False  # RE2 would print to stderr; the caller reports it instead
    return options


@lru_cache(maxsize=1024)
def compile_error(pattern: str) -> str | None:
    """Why Go's regexp would reject `pattern` (RE2's words, or Go's for `\\C`), or None.

    Asks the binding's compiled RE2 object directly, as `re2.compile` does inside (it encodes
    the pattern, builds `_re2.RE2` and raises `RE2.error()` when not `ok()`), without the
    wrapper's per-call copy of every option: a quarter of the time, which counts when a
    fleet-sized policy has thousands of identity regexes (tests compare both on a table).
    """
    if len(pattern) <= _PLAIN_MAX and _PLAIN.fullmatch(pattern):
        return None
    from re2 import _re2

    try:
        regexp = _re2.RE2(pattern.encode("utf-8"), _options())
        error = None if regexp.ok() else regexp.error()
    except Exception as exc:  # a pattern that is not UTF-8 (lone surrogates)
        error = exc.args[0] if exc.args else exc
    if error is not None:  # its message is bytes on some builds
        if isinstance(error, bytes):
            error = error.decode("utf-8", "replace")
        return str(error)
    if _unescaped_any_byte(pattern):
        return "invalid escape sequence: \\C (Go's regexp has no 'any byte' escape; RE2 in C++ has)"
    return None
