"""Find in the policy (ctrl+f): a one-line box over the editor; the match is selected as you type."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Input, Label

from .modals import Dialog

if TYPE_CHECKING:
    from .editor import PolicyEditor


class FindScreen(Dialog[None]):
    """Typing selects the first match from the cursor; enter/down the next, up the previous;
    escape closes and leaves the match selected (ctrl+g / alt+g find again in the editor)."""

    DEFAULT_CSS = """
    FindScreen { align: center top; }
    FindScreen > Vertical { margin-top: 2; }
    """
    BINDINGS = [
        Binding("escape", "close", "Close", id="find.close", tooltip="Close; the match stays selected"),
        Binding("down", "next", "Next", id="find.next", tooltip="Next match"),
        Binding("up", "previous", "Previous", id="find.previous", tooltip="Previous match"),
    ]

    def __init__(self, editor: PolicyEditor, text: str = "") -> None:
        super().__init__()
        self.editor = editor
        self.text = text

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Find in the policy", classes="title")
            yield Input(value=self.text, placeholder="text to find (any case)", id="find-input")
            yield Label("enter/down next · up previous · escape closes", classes="hint", id="find-status")

    def on_input_changed(self, event: Input.Changed) -> None:
        self._show(self.editor.find(event.value, here=True), event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.action_next()

    def action_next(self) -> None:
        value = self.query_one(Input).value
        self._show(self.editor.find(value, True), value)

    def action_previous(self) -> None:
        value = self.query_one(Input).value
        self._show(self.editor.find(value, False), value)

    def _show(self, found: bool, value: str) -> None:
        row, column = self.editor.selection.start
        status = f"line {row + 1}, column {column + 1}" if found else ("not found" if value else "")
        self.query_one("#find-status", Label).update(
            f"{status} · enter/down next · up previous · escape closes" if status else "enter/down next · up previous · escape closes"
        )

    def action_close(self) -> None:
        self.dismiss(None)
