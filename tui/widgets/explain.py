"""The ctrl+e box: paste a pull error (kubectl event, kubelet or containerd line, Talos or Kyverno
message), read what `pullguard explain` says about it under the policy being edited, and add
its image to the table (selected). The engine's `troubleshoot.explain` does the work."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Label, Static, TextArea

from pullguard.engine.display import escape_control

from ..styles import OUTCOME_STYLE
from ..themetext import themed
from .modals import Dialog

if TYPE_CHECKING:
    from pullguard.engine.troubleshoot import Explanation

VERDICT = {True: ("as the node did", "green"), False: ("unlike the node", "bold red"), None: ("(no verdict to compare)", "dim")}


def explanation_text(explanations: list[Explanation]) -> Text:
    """What the CLI's `explain` prints, as one rich Text (every outside string escaped)."""
    out = Text()
    if not explanations:
        out.append("no pull error recognised in the text (a kubelet event, a containerd or Talos message, "
                   "or a Kyverno admission denial)", style="yellow")
        return out
    for number, item in enumerate(explanations):
        report, decision, advice = item.reported, item.decision, item.advice
        if number:
            out.append("\n")
        image = escape_control(report.image) if report.image is not None else "(image not named)"
        out.append(image, style="bold")
        out.append(f"  ({escape_control(report.source)})\n", style="dim")
        outcome = report.outcome or "reported"
        out.append("  node said:  ")
        out.append(outcome, style=OUTCOME_STYLE.get(outcome, ""))
        out.append(f" - {escape_control(report.message)}\n")
        if decision is not None:
            rule = (f" by rule {escape_control(decision.rule_id)} ({escape_control(decision.pattern or '')})"
                    if decision.rule_id else "")
            words, style = VERDICT[advice.agrees]
            out.append(f"  policy:     {decision.action or 'invalid'}{rule}, ")
            out.append(f"{words}\n", style=style)
        out.append(f"  cause:      {escape_control(advice.cause)}\n")
        if advice.suggestion:
            first, *rest = [escape_control(line) for line in advice.suggestion.split("\n")]
            out.append("  fix:", style="green")
            out.append(f"        {first}\n")
            for line in rest:
                out.append(f"              {line}\n")
    return out


class ExplainScreen(Dialog[str | None]):
    """Paste, then ctrl+e (or the button) explains; enter on "Add and select" (or `ctrl+a`)
    closes with the first recognised image, which the dashboard adds and selects."""

    DEFAULT_CSS = """
    ExplainScreen > Vertical { height: 90%; }
    ExplainScreen #explain-paste { height: 1fr; min-height: 3; }
    ExplainScreen #explain-result { height: 2fr; min-height: 3; }
    """
    BINDINGS = [
        Binding("escape", "cancel", "Close", id="explain.close", tooltip="Close without adding"),
        Binding("ctrl+e", "explain", "Explain", id="explain.run", tooltip="Explain the pasted text", priority=True),
        Binding("ctrl+a", "add", "Add image", id="explain.add", tooltip="Add the error's image to the table and select it", priority=True),
    ]

    def __init__(self, loaded: Any = None) -> None:
        """`loaded`: the policy being edited (a LoadedPolicy without errors), or None."""
        super().__init__()
        self.loaded = loaded
        self.explanations: list[Explanation] = []

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Explain a pull error", classes="title")
            yield Label("paste a pod event or a log line, then ctrl+e", classes="hint")
            area = TextArea("", soft_wrap=True, id="explain-paste")
            area.cursor_blink = False
            yield area
            with VerticalScroll(id="explain-result"):
                yield Static("", id="explain-text")
            with Horizontal():
                yield Button("Explain (ctrl+e)", id="explain-run")
                yield Button("Add and select (ctrl+a)", variant="primary", id="explain-add", disabled=True)
                yield Button("Close (esc)", id="explain-close")

    def on_mount(self) -> None:
        self.query_one("#explain-paste", TextArea).focus()

    def action_explain(self) -> None:
        from pullguard.engine.troubleshoot import explain

        text = self.query_one("#explain-paste", TextArea).text
        self.explanations = explain(text, self.loaded)
        self.query_one("#explain-text", Static).update(themed(explanation_text(self.explanations), self.app.theme_variables))
        self.query_one("#explain-add", Button).disabled = self.image is None

    @property
    def image(self) -> str | None:
        return next((e.reported.image for e in self.explanations if e.reported.image), None)

    def action_add(self) -> None:
        if not self.explanations:
            self.action_explain()
        if self.image is not None:
            self.dismiss(self.image)
        else:
            self.notify("no image named in the text", severity="warning")

    def action_cancel(self) -> None:
        self.dismiss(None)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        {"explain-run": self.action_explain, "explain-add": self.action_add, "explain-close": self.action_cancel}.get(
            event.button.id or "", self.action_cancel)()
