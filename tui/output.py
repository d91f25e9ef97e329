"""Text output for people, shared by the commands: tables, compiler-style diagnostics, colour.

Text from outside is escaped here (`pullguard.engine.display.escape_control`, SPEC §6).
Colour only when the stream is a terminal and `NO_COLOR` is unset or empty (no-color.org);
pipes and files get plain text. Standard library and the engine's display leaf only: commands
import this at run time and `pullguard check` must start fast.
"""

from __future__ import annotations

import os
import shutil
from typing import Iterable, Sequence, TextIO

from pullguard.engine.display import escape_control
from pullguard.engine.endpoints import redact_userinfo

from .styles import SEVERITY_STYLE

_CODES = {
    "bold": "1",
    "dim": "2",
    "red": "31",
    "green": "32",
    "yellow": "33",
    "blue": "34",
    "magenta": "35",
    "cyan": "36",
    "bold red": "1;31",
    "bold yellow": "1;33",
    "bold green": "1;32",
    "bold cyan": "1;36",
    "bold magenta": "1;35",
    "italic": "3",
}



def use_color(stream: TextIO) -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class Painter:
    """Wraps text in ANSI styles, or leaves it alone when colour is off."""

    def __init__(self, enabled: bool):
        self.enabled = enabled

    @classmethod
    def for_stream(cls, stream: TextIO) -> "Painter":
        return cls(use_color(stream))

    def __call__(self, text: str, style: str | None) -> str:
        if not self.enabled or not style or style not in _CODES:
            return text
        return f"\x1b[{_CODES[style]}m{text}\x1b[0m"


def _clip(text: str, width: int) -> str:
    if width <= 0 or len(text) <= width:
        return text
    if width == 1:
        return "…"
    return text[: width - 1] + "…"


def table(
    headers: Sequence[str],
    rows: Iterable[Sequence[str]],
    paint: Painter | None = None,
    styles: Iterable[Sequence[str | None]] | None = None,
    width: int | None = None,
    max_widths: Sequence[int | None] | None = None,
) -> str:
    """A plain column table; the last column is never padded and takes what space is left.

    `styles` gives a style per cell (same shape as rows); columns are sized on the raw text so
    colour codes never shift them. Every cell is shown escaped (SPEC §6). On a terminal narrower than the table, the widest columns
    are clipped with '…' (width=None means: don't clip, as for pipes).
    """
    paint = paint or Painter(False)
    # Cells hold outside text (image lists, registry answers, policy files): escaped before they
    # are measured, so a newline never starts a row and an escape never reaches the terminal.
    rows = [[("" if c is None else escape_control(str(c))) for c in row] for row in rows]
    styles = [list(s) for s in styles] if styles is not None else [[None] * len(headers) for _ in rows]
    n = len(headers)
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    if max_widths:
        widths = [min(w, m) if m else w for w, m in zip(widths, max_widths, strict=False)]
    if width is not None:
        # shrink the widest non-last columns until the table fits (keep at least 8 each)
        total = lambda: sum(widths[:-1]) + 2 * (n - 1) + widths[-1]  # noqa: E731
        while total() > width:
            candidates = [i for i in range(n) if widths[i] > 8]
            if not candidates:
                break
            widest = max(candidates, key=lambda i: widths[i])
            widths[widest] -= 1
    lines = []
    header = "  ".join(h.ljust(widths[i]) if i < n - 1 else h for i, h in enumerate(headers))
    lines.append(paint(header.rstrip(), "bold"))
    for row, row_styles in zip(rows, styles, strict=False):
        cells = []
        for i, cell in enumerate(row):
            text = _clip(cell, widths[i])
            pad = " " * (widths[i] - len(text)) if i < n - 1 else ""
            cells.append(paint(text, row_styles[i] if i < len(row_styles) else None) + pad)
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def terminal_width(stream: TextIO) -> int | None:
    """Columns of the terminal behind `stream`, or None for pipes and files (no clipping)."""
    try:
        if not stream.isatty():
            return None
    except (AttributeError, ValueError):
        return None
    return shutil.get_terminal_size((120, 24)).columns


def shown_source(line: str) -> str:
    """A line of a policy file as it is shown: a URL's userinfo (a mirror's password) as `***@`,
    control characters escaped (SPEC §6)."""
    return escape_control(redact_userinfo(line))


EXCERPT_WIDTH = 120  # columns of a source line shown under a diagnostic


def diagnostic_block(diag, path: str, source_lines: Sequence[str] | None, paint: Painter) -> str:
    """`p.yaml:7:5: error: message [code]`, the source line with a caret, and the fix."""
    where = escape_control(diag.location(path))
    severity = paint(diag.severity, SEVERITY_STYLE.get(diag.severity))
    message = escape_control(diag.message)
    out = [f"{paint(where, 'bold')}: {severity}: {message} {paint('[' + diag.code + ']', 'dim')}"]
    if source_lines is not None and diag.line is not None and 1 <= diag.line <= len(source_lines):
        source = source_lines[diag.line - 1].rstrip("\r\n").replace("\t", " ")
        gutter = f"{diag.line:>5} | "
        shown = shown_source(source)
        caret_at = length = 0
        if diag.column is not None:
            # The caret is placed on the line as shown: escapes and hidden passwords change its length.
            start = max(diag.column - 1, 0)
            end = start + 1
            if diag.end_line == diag.line and diag.end_column and diag.end_column > diag.column:
                end = diag.end_column - 1
            caret_at = len(shown_source(source[:start]))
            length = max(len(shown_source(source[:end])) - caret_at, 1)
        if len(shown) > EXCERPT_WIDTH:
            # A minified or generated line (a policy on one line, a bracket bomb): the part around
            # the caret, with an ellipsis where the line goes on, not the whole line.
            left = min(max(caret_at - EXCERPT_WIDTH // 3, 0), len(shown) - EXCERPT_WIDTH)
            right = left + EXCERPT_WIDTH
            shown = ("…" if left else "") + shown[left:right] + ("…" if right < len(shown) else "")
            caret_at = caret_at - left + (1 if left else 0)
            length = min(length, EXCERPT_WIDTH + 1 - caret_at)
        out.append(paint(gutter, "dim") + shown)
        if diag.column is not None:
            out.append(paint(" " * 5 + " | ", "dim") + " " * caret_at + paint("^" + "~" * (length - 1), SEVERITY_STYLE.get(diag.severity)))
    if diag.fix:
        out.append(f"      {paint('fix:', 'green')} {escape_control(diag.fix)}")
    return "\n".join(out)


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"
