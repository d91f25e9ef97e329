"""`compile_error` asks the RE2 binding's compiled object directly; its verdict and message
must be the ones `re2.compile` (the binding's public wrapper) gives, and Go's for `\\C`."""

from __future__ import annotations

import random

import pytest
import re2

from pullguard.engine.goregexp import compile_error

GO_ANY_BYTE = "invalid escape sequence: \\C (Go's regexp has no 'any byte' escape; RE2 in C++ has)"


def wrapper_error(pattern: str) -> str | None:
    options = re2.Options()
    options.log_errors = False
    try:
        re2.compile(pattern, options)
    except Exception as exc:
        text = exc.args[0] if exc.args else exc
        return text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    return None


TABLE = ["", "^https://github\\.com/acme/", "a(", "a)", "(?P<n>a)", "(?<n>a)", "a{1001}", "a{2,1}",
         "\\p{Greek}", "\\pX", "[z-a]", "x**", "(?=a)", "(?!a)", "a\\", "\\8", "(?i)abc", "[[:alpha:]]",
         "[[:foo:]]", "a*+", "\\Q(\\E", "é+", "\ud800", "\\C", "\\\\C"]


@pytest.mark.parametrize("pattern", TABLE)
def test_the_table_agrees_with_the_wrapper(pattern: str) -> None:
    expected = wrapper_error(pattern)
    got = compile_error(pattern)
    assert got == (GO_ANY_BYTE if expected is None and pattern == "\\C" else expected)


@pytest.mark.parametrize("seed", range(3))
def test_generated_patterns_agree_with_the_wrapper(seed: int) -> None:
    rng = random.Random(seed)
    alphabet = "ab()[]{}*+?|^$\\.:-,019PpQE<>=!dwsé"
    for _ in range(5000):
        pattern = "".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 9)))
        got = compile_error(pattern)
        assert got == wrapper_error(pattern) or (got == GO_ANY_BYTE and wrapper_error(pattern) is None), pattern


@pytest.mark.parametrize("seed", range(3))
def test_literal_patterns_answered_without_re2_agree_with_the_wrapper(seed: int) -> None:
    # compile_error answers patterns of literals, '.', anchors and escaped punctuation without
    # RE2 (identity regexes): every such pattern, and every near miss, as the wrapper says.
    rng = random.Random(seed)
    alphabet = "az09 _/:@=%,;!#&'\"<>~.^$-\\\\\\()[]{}*+?|CdQé"
    for _ in range(5000):
        pattern = "".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 12)))
        got = compile_error(pattern)
        assert got == wrapper_error(pattern) or (got == GO_ANY_BYTE and wrapper_error(pattern) is None), pattern
    assert compile_error("^https://github\\.com/org-" + "7" * 995) is None  # past the length the shortcut takes
