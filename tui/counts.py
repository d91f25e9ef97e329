"""Counts in words: `1 error`, `2 warnings`, `no problems` (the status bar, the problems title)."""

from __future__ import annotations

from collections.abc import Iterable

SEVERITIES = ("error", "warning", "info")


def plural(count: int, word: str) -> str:
    """`1 error`, `2 errors`; `info` is a mass noun here (`2 info`)."""
    return f"{count} {word}" if count == 1 or word == "info" else f"{count} {word}s"


def severity_counts(severities: Iterable[str]) -> str:
    """`1 error, 2 warnings, 1 info`, every severity present and counted; `no problems` when none."""
    counts = dict.fromkeys(SEVERITIES, 0)
    for severity in severities:
        counts[severity] = counts.get(severity, 0) + 1
    words = [plural(n, severity) for severity, n in counts.items() if n]
    return ", ".join(words) if words else "no problems"
