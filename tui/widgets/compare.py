"""Compare with the saved version: what the edits would change over the loaded images.

The same diff as `pullguard diff SAVED EDITED --images …` (pullguard.engine.policydiff), grouped by kind
of change with counts, in the same words as its text output, and copyable.
"""

from __future__ import annotations

from .modals import TextModal


def compare_text(result, cross: bool = False, old_dialect: str = "", new_dialect: str = "") -> str:
    """The body of the compare screen: `pullguard diff`'s text output for `result` (a PolicyDiff)."""
    from ..commands.diff import _TITLES, _describe

    lines: list[str] = []
    if cross:
        lines.append(f"comparing a {old_dialect} policy with a {new_dialect} policy: rules compared by action and verifier")
        lines.append("")
    counts = result.counts
    for kind, title in _TITLES.items():
        changes = [change for change in result.changes if change.kind == kind]
        if not changes:
            continue
        lines.append(f"{title} ({counts[kind]}):")
        lines.extend(f"  {change.image}: {_describe(change.old)} -> {_describe(change.new)}" for change in changes)
        lines.append("")
    lines.append(summary_line(result))
    return "\n".join(lines)


def summary_line(result) -> str:
    """`N changed (K kind, …), M unchanged`, as `pullguard diff` ends its output."""
    from ..commands.diff import _TITLES

    counts = result.counts
    parts = [f"{counts[kind]} {kind}" for kind in _TITLES if counts[kind]]
    detail = f" ({', '.join(parts)})" if parts else ""
    return f"{len(result.changes)} changed{detail}, {result.unchanged} unchanged"


class CompareScreen(TextModal):
    """The diff between the policy on disk and the one in the editor; escape closes, c copies."""

    def __init__(self, path: str, result, cross: bool = False, old_dialect: str = "", new_dialect: str = "") -> None:
        self.result = result
        super().__init__(
            f"compare with saved version: {path} · {summary_line(result)}",
            compare_text(result, cross, old_dialect, new_dialect),
        )
