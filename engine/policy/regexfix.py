"""A concrete fix for a regular expression Go's regexp (RE2 syntax) refuses.

Talos and Kyverno both compile identity regexes with Go's regexp; the person reading the error
wants the change to make, not a pointer to the syntax reference.
"""

from __future__ import annotations

EXAMPLE = "'^https://github\\.com/myorg/.+$'"


def regex_fix(pattern: str, error: str) -> str:
    """What to change in `pattern`, given `error` (engine.goregexp.compile_error's words)."""
    if "\\C" in error:
        return "Go's regexp has no '\\C' (any byte): use '.' for any character"
    if any(look in pattern for look in ("(?=", "(?!", "(?<=", "(?<!")):
        return f"RE2 has no lookahead or lookbehind: express the identity positively, e.g. {EXAMPLE}"
    if error.startswith("invalid escape sequence") and any(f"\\{d}" in pattern for d in "123456789"):
        return "RE2 has no backreferences: spell the repeated part out"
    if "possessive" in error or "*+" in pattern or "++" in pattern:
        return "RE2 has no possessive quantifiers: use plain '*' or '+'"
    if error.startswith("missing )"):
        return "close the group with ')', or write '\\(' for a literal '('"
    if error.startswith("unexpected )"):
        return "remove the extra ')', or write '\\)' for a literal ')'"
    if error.startswith("missing ]"):
        return "close the character class with ']', or write '\\[' for a literal '['"
    if error.startswith("no argument for repetition operator"):
        return f"'*', '+' and '?' repeat what comes before them: for any text write '.*', e.g. {EXAMPLE}"
    if error.startswith("bad repetition operator"):
        return "use one repetition operator at a time ('.*', not '.**')"
    if error.startswith("invalid repetition size"):
        return "a repeat count {n,m} goes up to 1000 in Go's regexp: use '+' or a smaller count"
    if error.startswith("invalid escape sequence"):
        if "\\Z" in pattern:
            return "Go's regexp has no '\\Z': use '$' (or '\\z') for the end of the text"
        return "escape only punctuation ('\\.' for a dot); a letter after '\\' must be one Go knows: \\d \\s \\w \\b \\A \\z"
    if error.startswith("invalid perl operator") or error.startswith("invalid named capture"):
        return "Go knows '(?:...)', '(?P<name>...)' and flags like '(?i)': close the group, or drop the '(?'"
    if error.startswith("invalid character class"):
        return "write character classes Go knows: '[a-z]', '\\d', '[[:alpha:]]'"
    return f"write a Go (RE2) regular expression, e.g. {EXAMPLE}"
