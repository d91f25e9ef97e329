"""The source line under a diagnostic: whole when it fits, the part around the caret when it does not."""

from __future__ import annotations

import pytest

from pullguard.engine.diagnostics import Diagnostic
from pullguard.tui.output import EXCERPT_WIDTH, Painter, diagnostic_block

LONG = "rules: [" + "".join(f"{{image: r{i}}}, " for i in range(3000)) + "]"  # a minified policy: 40 KB on a line


@pytest.mark.parametrize(
    "line, column, end_column",
    [
        ("rules: [{image: 'ghcr.io/*'}]", 10, None),  # short: shown whole
        (LONG, 9, None),  # at the start
        (LONG, len(LONG) // 2, len(LONG) // 2 + 5),  # in the middle, a span
        (LONG, len(LONG), None),  # at the end
        (LONG, len(LONG) - 3, len(LONG) + 40),  # a span running past the line
        ("x" * 5 + "\x1b" * 400 + "y", 406, None),  # escapes widen the line as shown
    ],
)
def test_the_caret_points_at_the_character_and_the_line_fits(line, column, end_column):
    diag = Diagnostic("error", "code", "message", line=1, column=column, end_line=1 if end_column else None,
                      end_column=end_column)
    _, source, caret = diagnostic_block(diag, "p.yaml", [line], Painter(False)).split("\n")
    shown, marks = source[len("    1 | "):], caret[len("      | "):]
    assert len(shown) <= max(EXCERPT_WIDTH + 2, len(line))
    at = len(marks) - len(marks.lstrip(" "))
    assert marks.strip()[0] == "^" and at < len(shown) + 1
    assert len(marks) <= len(shown) + 1
    if "\x1b" not in line:
        assert shown[at] == line[column - 1]
        assert shown.startswith("…") == (len(line) > EXCERPT_WIDTH and column > EXCERPT_WIDTH // 3)
    else:
        assert shown[at] == "y"
