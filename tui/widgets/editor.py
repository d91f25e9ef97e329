"""The policy editor: a YAML code editor that underlines diagnostics in the text.

Inline diagnostics have no public TextArea API: `get_line()` (public, and meant to be
overridden) styles their ranges, and `notify_style_update()` drops the rendered lines when
the diagnostics change. Long lines wrap (soft wrap), so the editor never scrolls sideways.
Enter keeps the indentation as a YAML editor does (deeper after `key:`, with an item's keys
after `- `); `ctrl+f` finds, `ctrl+home`/`ctrl+end` go to the ends, `ctrl+a` selects all.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.widgets import TextArea
from textual.widgets.text_area import Selection

from pullguard.engine.diagnostics import Diagnostic, TextEdit

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


def new_line_indent(before: str) -> str:
    """The indentation of a new line typed after `before` (the line up to the cursor), as a
    YAML editor gives it: the same as that line, the keys of a `- ` item, or one level deeper
    after a key with no value (`rules:`, `keyless:`)."""
    stripped = before.rstrip()
    indent = len(before) - len(before.lstrip(" "))
    rest = before[indent:]
    content = indent
    while rest.startswith("- ") or rest == "-":
        step = 1 + len(rest[1:]) - len(rest[1:].lstrip(" "))
        content += max(step, 2)
        rest = rest[step:]
    if not rest.strip():  # a blank line, or a bare '- ': keep where the text would start
        return " " * (content if rest != before[indent:] else indent)
    if content != indent and ":" not in rest.split(" #")[0]:
        return " " * indent  # after a plain list item ('- "ghcr.io/a/*"'): the next item
    if stripped.endswith(":") and not stripped.lstrip().startswith("#"):
        return " " * (content + 2)
    if stripped.endswith(("|", ">", "|-", ">-")) and ": " in stripped:
        return " " * (content + 2)
    return " " * content


def find_location(text: str, needle: str, selection: Selection, forward: bool, *, here: bool = False,
                  ) -> tuple[tuple[int, int], tuple[int, int]] | None:
    """(start, end) of the match of `needle` after (before) the selection, wrapping around;
    `here`: a match may start where the selection starts (the search text grows as it is typed)."""
    lines = text.split("\n")

    def offset(location: tuple[int, int]) -> int:
        row, column = location
        return sum(len(line) + 1 for line in lines[:row]) + column

    def location(index: int) -> tuple[int, int]:
        row = text.count("\n", 0, index)
        return row, index - (text.rfind("\n", 0, index) + 1)

    haystack, wanted = text.lower(), needle.lower()
    low, high = sorted((offset(selection.start), offset(selection.end)))
    if forward:
        start = low if here else high
        found = haystack.find(wanted, start)
        if found < 0:
            found = haystack.find(wanted)
    else:
        found = haystack.rfind(wanted, 0, max(low, 0))
        if found < 0:
            found = haystack.rfind(wanted)
    if found < 0:
        return None
    return location(found), location(found + len(needle))


class PolicyEditor(TextArea):
    """`TextArea.code_editor` for YAML with diagnostics underlined."""

    DEFAULT_CSS = """
    PolicyEditor { border: round $panel; }
    PolicyEditor:focus { border: round $accent; }
    """
    # ctrl+a selects all here (as in most editors; home goes to the line start) and ctrl+e
    # belongs to the dashboard (explain a pull error), not to the line end (end does that).
    BINDINGS = [
        Binding("ctrl+a,f7", "select_all", "Select all", id="editor.select_all", tooltip="Select all the text", show=False),
        Binding("home", "cursor_line_start", "Line start", show=False),
        Binding("end", "cursor_line_end", "Line end", show=False),
        Binding("ctrl+e", "app.explain_error", "Explain", show=False),
        Binding("ctrl+home", "document_start", "Start", id="editor.start", tooltip="Go to the start of the policy", show=False),
        Binding("ctrl+end", "document_end", "End", id="editor.end", tooltip="Go to the end of the policy", show=False),
        Binding("ctrl+shift+home", "document_start(True)", "Select to start", show=False),
        Binding("ctrl+shift+end", "document_end(True)", "Select to end", show=False),
        Binding("ctrl+f", "find", "Find", id="editor.find", tooltip="Find text in the policy (enter/down next, up previous)", show=False),
        Binding("ctrl+g", "find_next", "Find next", id="editor.find_next", tooltip="Find the next match", show=False),
        Binding("alt+g", "find_previous", "Find previous", id="editor.find_previous", tooltip="Find the previous match", show=False),
    ]

    def __init__(self, text: str = "", **kwargs) -> None:
        super().__init__(
            text,
            language="yaml",
            theme="css",  # TextArea's theme drawn from the app's theme (monokai stayed dark on light themes)
            soft_wrap=True,
            tab_behavior="indent",
            show_line_numbers=True,
            **kwargs,
        )
        self.indent_width = 2
        self.cursor_blink = False  # steady cursor: snapshots are stable and it reads calmer
        self._ranges: dict[int, list[tuple[int, int, str]]] = {}
        self.diagnostics: list[Diagnostic] = []
        self.search = ""  # the last text looked for (ctrl+f, ctrl+g)

    def set_diagnostics(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = list(diagnostics)
        lines = self.text.split("\n")
        ranges: dict[int, list[tuple[int, int, str]]] = defaultdict(list)
        # Weakest first, so an error's style wins where ranges overlap.
        for diagnostic in sorted(diagnostics, key=lambda d: _RANK.get(d.severity, 0)):
            for line, start, end in diagnostic_ranges(diagnostic, lines):
                ranges[line].append((start, end, diagnostic.severity))
        if dict(ranges) == self._ranges:
            return
        self._ranges = dict(ranges)
        self.notify_style_update()  # rendered lines do not know about diagnostics: draw them again
        self.refresh()

    # -- typing ---------------------------------------------------------------------------

    def update_suggestion(self) -> None:
        """While a key is typed, the rest of the first key the dialect allows at that level
        (TextArea's public suggestion hook; `right` accepts it)."""
        from ..keycompletion import suggestion, typing_key

        row, column = self.cursor_location
        line = self.document.get_line(row)
        if column != len(line) or not typing_key(line) or not self.selection.is_empty:
            self.suggestion = ""
            return
        self.suggestion = suggestion(self.text, self.document.lines, row, column)

    def on_key(self, event: events.Key) -> None:
        # Runs before TextArea's own key handling (subclass first); prevent_default keeps
        # TextArea from inserting a bare newline as well.
        if event.key == "enter" and not self.read_only:
            event.stop()
            event.prevent_default()
            row, column = self.cursor_location
            indent = new_line_indent(self.document.get_line(row)[:column])
            start, end = self.selection
            self.replace("\n" + indent, start, end, maintain_selection_offset=False)
            self.scroll_cursor_visible()

    def action_document_start(self, select: bool = False) -> None:
        self.move_cursor((0, 0), select=select)

    def action_document_end(self, select: bool = False) -> None:
        last = self.document.line_count - 1
        self.move_cursor((last, len(self.document.get_line(last))), select=select)

    # -- find -----------------------------------------------------------------------------

    def action_find(self) -> None:
        from .find import FindScreen

        self.app.push_screen(FindScreen(self, self.search or self.selected_text.split("\n")[0]))

    def find(self, text: str, forward: bool = True, *, here: bool = False) -> bool:
        """Select the next (or previous) match of `text` (case-insensitive) after the cursor;
        wraps around the ends. False when the text is not in the policy."""
        self.search = text
        if not text:
            return False
        location = find_location(self.text, text, self.selection, forward, here=here)
        if location is None:
            return False
        start, end = location
        self.selection = Selection(start, end)
        self.scroll_cursor_visible(center=True)
        return True

    def _find_again(self, forward: bool) -> None:
        if not self.search:
            self.action_find()
        elif not self.find(self.search, forward):
            self.notify(f"not found: {self.search}", severity="warning")

    def action_find_next(self) -> None:
        self._find_again(True)

    def action_find_previous(self) -> None:
        self._find_again(False)

    # -- quick fixes ----------------------------------------------------------------------

    def apply_edits(self, edits: Sequence[TextEdit]) -> None:
        """Make a fix's edits (last first, so the earlier positions stay valid); one undo step
        each, the cursor at the end of the last one made."""
        for edit in sorted(edits, key=lambda e: (e.line, e.column), reverse=True):
            start = self._location(edit.line, edit.column)
            end = self._location(edit.end_line, edit.end_column)
            self.replace(edit.text, start, end, maintain_selection_offset=False)

    def _location(self, line: int, column: int) -> tuple[int, int]:
        row = min(max(line - 1, 0), self.document.line_count - 1)
        return row, min(max(column - 1, 0), len(self.document.get_line(row)))

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
