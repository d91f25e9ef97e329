"""Compare with the saved version: what the edits would change over the loaded images.

The same diff as `pullguard diff SAVED EDITED --images …` (pullguard.engine.policydiff), grouped by kind
of change with counts, in the same words as its text output, and copyable.
"""

from __future__ import annotations

from ..diffreport import CHANGE_TITLES, cross_dialect_line, report_lines, summary_line
from .modals import TextModal

# A weakened verifier accepts signers it did not before: the change a reviewer must not miss.
# The report lists it first (engine.policydiff.KINDS); the compare view also marks it.
WEAKENED_MARK = "⚠ "


def compare_text(result, cross: bool = False, old_dialect: str = "", new_dialect: str = "") -> str:
    """The body of the compare screen: `pullguard diff`'s text output for `result` (a PolicyDiff)."""
    header = [cross_dialect_line(old_dialect, new_dialect), ""] if cross else []
    weakened = CHANGE_TITLES["verifier-weakened"]
    lines = [WEAKENED_MARK + line if line.startswith(weakened) else line for line in report_lines(result)]
    return "\n".join(header + lines)


class CompareScreen(TextModal):
    """The diff between the policy on disk and the one in the editor; escape closes, c copies."""

    def __init__(self, path: str, result, cross: bool = False, old_dialect: str = "", new_dialect: str = "") -> None:
        self.result = result
        super().__init__(
            f"compare with saved version: {path} · {summary_line(result)}",
            compare_text(result, cross, old_dialect, new_dialect),
        )
