"""The policy editor: a YAML code editor that underlines diagnostics in the text.

Textual has no public API for inline diagnostics, so `get_line()` is overridden to style the
ranges, and the render cache is cleared whenever the diagnostics change (pinned to
Textual 8.2.x and covered by a snapshot test).

Syntax highlighting is asked of tree-sitter for the lines around the view only: TextArea
queries the whole document after every edit (4-5 ms for a 200-rule policy, per keystroke).
"""

from __future__ import annotations

from collections import defaultdict

from rich.style import Style
from rich.text import Text
from textual.widgets import TextArea

from pullguard.engine.diagnostics import Diagnostic

from ..safetext import control_pictures
from ..styles import SEVERITY_TINT

# Underline plus the severity's tint (tui/styles.py).
SEVERITY_STYLES = {
    severity: Style(underline=True, bgcolor=tint) for severity, tint in SEVERITY_TINT.items()
}
_RANK = {"info": 0, "warning": 1, "error": 2}


def diagnostic_ranges(diagnostic: Diagnostic, lines: list[str]) -> list[tuple[int, int, int]]:
    """(0-based line, start, end) character ranges a diagnostic covers in `lines`.

    With an end position the range runs to it; with only a column it covers the token there;
    with only a line, the line's text without its indentation.
    """
    if diagnostic.line is None or not lines:
        return []
    first = min(max(diagnostic.line - 1, 0), len(lines) - 1)
    text = lines[first]
    if diagnostic.column is None:
        start = len(text) - len(text.lstrip())
        return [(first, start, max(len(text), start + 1))]
    start = min(max(diagnostic.column - 1, 0), len(text))
    if diagnostic.end_line is not None and diagnostic.end_column is not None:
        last = min(max(diagnostic.end_line - 1, first), len(lines) - 1)
        if last == first:
            return [(first, start, max(diagnostic.end_column - 1, start + 1))]
        ranges = [(first, start, max(len(text), start + 1))]
        for index in range(first + 1, last):
            ranges.append((index, 0, len(lines[index])))
        ranges.append((last, 0, max(diagnostic.end_column - 1, 1)))
        return ranges
    end = start
    while end < len(text) and not text[end].isspace():
        end += 1
    return [(first, start, max(end, start + 1))]


def _span(highlight: tuple) -> tuple:
    start, end, name = highlight
    return (start, -1 if end is None else end, name)


# Lines highlighted beyond each edge of the view, so that scrolling a page re-queries nothing.
HIGHLIGHT_MARGIN = 40


class PolicyEditor(TextArea):
    """`TextArea.code_editor` for YAML with diagnostics underlined."""

    # [first, last) lines in the highlight map; set by the first map, built during __init__.
    highlighted_lines: tuple[int, int] | None = None

    DEFAULT_CSS = """
    PolicyEditor { border: round $panel; }
    PolicyEditor:focus { border: round $accent; }
    """

    def __init__(self, text: str = "", **kwargs) -> None:
        super().__init__(
            text,
            language="yaml",
            theme="css",  # TextArea's theme drawn from the app's theme (monokai stayed dark on light themes)
            soft_wrap=False,
            tab_behavior="indent",
            show_line_numbers=True,
            **kwargs,
        )
        self.indent_width = 2
        self.cursor_blink = False  # steady cursor: snapshots are stable and it reads calmer
        self._ranges: dict[int, list[tuple[int, int, str]]] = {}
        # What each drawn line showed when it was drawn: after an edit only the lines whose
        # text, highlights or underlines changed are drawn again (see _forget_changed_lines).
        self._drawn: dict[int, tuple] = {}

    def set_diagnostics(self, diagnostics: list[Diagnostic]) -> None:
        lines = self.text.split("\n")
        ranges: dict[int, list[tuple[int, int, str]]] = defaultdict(list)
        # Weakest first, so an error's style wins where ranges overlap.
        for diagnostic in sorted(diagnostics, key=lambda d: _RANK.get(d.severity, 0)):
            for line, start, end in diagnostic_ranges(diagnostic, lines):
                ranges[line].append((start, end, diagnostic.severity))
        if dict(ranges) == self._ranges:
            return
        self._ranges = dict(ranges)
        self._forget_changed_lines()  # the cache key does not know about diagnostics
        self.refresh()

    def _build_highlight_map(self) -> None:
        # A private TextArea method, overridden (Textual pinned to 8.2.8; tests/test_tui_app
        # pins it): the same map of line -> (start, end, highlight name), but only for the
        # lines around the view, through the document's public query range. render_lines
        # builds it again when the view leaves those lines. soft_wrap is off, so view rows
        # are document lines. TextArea then clears its whole line cache (its keys do not
        # hold the text); _forget_changed_lines drops only the lines that changed.
        highlights = self._highlights
        highlights.clear()
        self.highlighted_lines = None
        query = self._highlight_query
        if not query:
            self._line_cache.clear()
            return
        top = self.scroll_offset.y
        first = max(0, top - HIGHLIGHT_MARGIN)
        last = top + max(self.size.height, 50) + HIGHLIGHT_MARGIN
        self.highlighted_lines = (first, last)
        captures = self.document.query_syntax_tree(query, start_point=(first, 0), end_point=(last, 0))
        for name, nodes in captures.items():
            for node in nodes:
                (start_row, start_column), (end_row, end_column) = node.start_point, node.end_point
                if start_row == end_row:
                    highlights[start_row].append((start_column, end_column, name))
                    continue
                highlights[start_row].append((start_column, None, name))
                for row in range(start_row + 1, end_row):
                    highlights[row].append((0, None, name))
                highlights[end_row].append((0, end_column, name))
        self._forget_changed_lines()

    def _shown(self, line: int) -> tuple:
        """What document line `line` looks like: text, highlights, underlines, gutter width."""
        text = self.document.get_line(line) if line < self.document.line_count else None
        # Sorted: tree-sitter lists the nodes of one capture name in no fixed order; spans of
        # one name look the same in any order, and the names keep the query's order.
        return (text, tuple(sorted(self._highlights.get(line, ()), key=_span)), tuple(self._ranges.get(line, ())), self.gutter_width)

    def _forget_changed_lines(self) -> None:
        # TextArea's line cache is keyed on the view line (key[2]), the cursor, selection,
        # size, scroll and theme, not on the text: drop the view lines whose look changed.
        if self.soft_wrap or not hasattr(self, "_drawn"):  # soft wrap, or still in __init__
            self._line_cache.clear()
            return
        changed = {line for line, shown in self._drawn.items() if shown != self._shown(line)}
        if not changed:
            return
        cache = self._line_cache
        for key in [key for key in cache.keys() if key[2] in changed]:
            cache.discard(key)
        for line in changed:
            del self._drawn[line]

    def render_line(self, y: int):
        strip = super().render_line(y)
        if not self.soft_wrap:
            line = self.scroll_offset.y + y
            self._drawn[line] = self._shown(line)
        return strip

    def render_lines(self, crop):
        window = self.highlighted_lines
        if window is not None:
            top = self.scroll_offset.y + crop.y
            if top < window[0] or top + crop.height > window[1]:
                self._build_highlight_map()
        return super().render_lines(crop)

    def underlined(self, line_index: int) -> list[tuple[int, int, str]]:
        """(start, end, severity) ranges underlined on a 0-based line."""
        return list(self._ranges.get(line_index, ()))

    def get_line(self, line_index: int) -> Text:
        line = super().get_line(line_index)
        # A policy file is outside text (SPEC §6): a control character in it is drawn as its
        # picture, never sent raw; same length, so the styles and the columns stay in place.
        shown = control_pictures(line.plain)
        if shown != line.plain:
            line.plain = shown
        for start, end, severity in self._ranges.get(line_index, ()):
            line.stylize(SEVERITY_STYLES.get(severity, SEVERITY_STYLES["info"]), start, end)
        return line
