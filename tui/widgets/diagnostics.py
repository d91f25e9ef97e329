"""The diagnostics list: every error and warning with its position; `enter` jumps to it."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from pullguard.engine.diagnostics import Diagnostic
from pullguard.engine.display import escape_control

from ..counts import severity_counts
from ..styles import SEVERITY_STYLE
from ..themetext import themed


def diagnostic_label(diagnostic: Diagnostic) -> Text:
    where = f"{diagnostic.line}:{diagnostic.column or 1}" if diagnostic.line is not None else "-"
    label = Text(f"{where} ", style="dim")
    label.append(f"{diagnostic.severity} ", style=SEVERITY_STYLE.get(diagnostic.severity, ""))
    label.append(escape_control(diagnostic.message))
    if diagnostic.fix:
        label.append(f"\nfix: {escape_control(diagnostic.fix)}", style="italic dim")
    return label


class DiagnosticsList(OptionList):
    DEFAULT_CSS = """
    DiagnosticsList { border: round $panel-lighten-2; }
    DiagnosticsList:focus { border: round $accent; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.diagnostics: list[Diagnostic] = []

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self._repaint())

    def _repaint(self) -> None:
        shown, self.diagnostics = self.diagnostics, []
        self.set_diagnostics(shown)  # every label again, in the new theme's colours

    def set_diagnostics(self, diagnostics: list[Diagnostic]) -> None:
        ordered = sorted(diagnostics, key=lambda d: (d.line or 0, d.column or 0))
        if ordered == self.diagnostics:
            return
        self.diagnostics = ordered
        self.clear_options()
        self.add_options([Option(themed(diagnostic_label(d), self.app.theme_variables)) for d in ordered])
        self.border_title = f"problems ({severity_counts(d.severity for d in ordered)})"
