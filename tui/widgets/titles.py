"""Pane titles that repaint only when they change, and are never read as markup."""

from __future__ import annotations

from textual.widget import Widget

from ..safetext import safe_text


def retitle(widget: Widget, value: str, attr: str = "border_title") -> None:
    """Set a border title/subtitle only when it changes: every assignment repaints the whole
    widget (the 2,000-row table's visible cells, the editor's lines), even with the same text.
    The title is Text, never markup: it may hold a file name (`[/nope].yaml`)."""
    shown = f"_pullguard_{attr}"
    if getattr(widget, shown, None) != value:
        setattr(widget, shown, value)
        setattr(widget, attr, safe_text(value))
