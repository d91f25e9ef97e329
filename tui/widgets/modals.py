"""Modal screens: help, confirm (quit / discard edits), copyable text (errors, details), prompt."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static, TextArea

from ..safetext import escape_lines, safe_text

MODAL_CSS = """
ModalScreen { align: center middle; }
ModalScreen > Vertical {
    width: 90%; max-width: 100; height: auto; max-height: 90%;
    border: thick $accent; background: $surface; padding: 0 1;
}
ModalScreen .title { text-style: bold; width: 1fr; }
ModalScreen .hint { color: $text-muted; }
ModalScreen Horizontal { height: auto; align-horizontal: right; }
ModalScreen Button { margin: 0 1; min-width: 10; }
"""


class HelpScreen(ModalScreen[None]):
    """Every key the dashboard answers to, from the live bindings (never out of date)."""

    DEFAULT_CSS = MODAL_CSS + """
    HelpScreen > Vertical { height: 90%; }
    HelpScreen #help-keys { height: 1fr; }
    """
    BINDINGS = [
        Binding("escape,f1,q", "dismiss", "Close", id="help.close", tooltip="Close the help screen"),
    ]

    def __init__(self, rows: list[tuple[str, str, str]]) -> None:
        super().__init__()
        self.rows = rows

    def compose(self) -> ComposeResult:
        text = Text()
        width = max((len(key) for key, _, _ in self.rows), default=8)
        section = None
        for key, description, where in self.rows:
            if where != section:
                section = where
                text.append(f"{where}\n", style="bold underline")
            text.append(f"  {key:<{width}}  ", style="bold cyan")
            text.append(f"{description}\n")
        with Vertical():
            yield Label("pullguard keys", classes="title")
            with VerticalScroll(id="help-keys"):
                yield Static(text)
            yield Label("escape closes · ctrl+p opens the command palette", classes="hint")


class ConfirmScreen(ModalScreen[bool]):
    """A yes/no question; `y`/`n`, or the buttons."""

    DEFAULT_CSS = MODAL_CSS
    BINDINGS = [
        Binding("y", "answer(True)", "Yes", id="confirm.yes", tooltip="Yes"),
        Binding("n,escape", "answer(False)", "No", id="confirm.no", tooltip="No, go back"),
    ]

    def __init__(self, question: str, yes: str = "Yes", no: str = "Cancel") -> None:
        super().__init__()
        self.question = question
        self.yes, self.no = yes, no

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(safe_text(self.question), classes="title", id="question")
            with Horizontal():
                yield Button(f"{self.yes} (y)", variant="error", id="yes")
                yield Button(f"{self.no} (n)", id="no")

    def action_answer(self, value: bool) -> None:
        self.dismiss(value)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")


class TextModal(ModalScreen[None]):
    """Text a person may want to paste elsewhere: select it, or `c` copies all of it."""

    DEFAULT_CSS = MODAL_CSS + """
    TextModal > Vertical { height: 80%; }
    TextModal TextArea { height: 1fr; }
    TextModal.error > Vertical { border: thick $error; }
    """
    BINDINGS = [
        Binding("escape", "dismiss", "Close", id="text.close", tooltip="Close"),
        Binding("c", "copy", "Copy all", id="text.copy", tooltip="Copy the whole text to the clipboard"),
    ]

    def __init__(self, title: str, text: str, error: bool = False) -> None:
        super().__init__(classes="error" if error else "")
        self.title_text = title
        self.text = escape_lines(text)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(safe_text(self.title_text), classes="title")
            area = TextArea(self.text, read_only=True, soft_wrap=True, id="modal-text")
            area.cursor_blink = False
            yield area
            yield Label("c copies all · select with shift+arrows, ctrl+c copies · escape closes", classes="hint")

    def action_copy(self) -> None:
        # OSC 52 asks the terminal to copy; it cannot tell whether the terminal did.
        self.app.copy_to_clipboard(self.text)
        self.notify("sent to the terminal's clipboard (OSC 52; some terminals ignore it: select the text instead)")


def error_modal(title: str, message: str) -> TextModal:
    return TextModal(title, message, error=True)


class PromptScreen(ModalScreen[str | None]):
    """One line of input (an image reference, a path); enter accepts, escape cancels."""

    DEFAULT_CSS = MODAL_CSS
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="prompt.cancel", tooltip="Cancel")]

    def __init__(self, title: str, placeholder: str = "", value: str = "", hint: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.placeholder = placeholder
        self.value = value
        self.hint = hint

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(safe_text(self.title_text), classes="title")
            yield Input(value=self.value, placeholder=self.placeholder, id="prompt-input")
            if self.hint:
                yield Label(safe_text(self.hint), classes="hint")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        value = event.value.strip()
        self.dismiss(value or None)

    def action_cancel(self) -> None:
        self.dismiss(None)
